import { defineService, handlersOf, type DefinedService, type MessageHandlers } from '@correio/service';

/**
 * One service's handlers from several objects (decorated classes or defineService results), such as
 * the chat handlers and the replica handlers a server serves on the same broker services. Two
 * sources declaring the same action, task, event or request type is a mistake, refused here.
 */
export function combineHandlers(...sources: readonly object[]): DefinedService {
  const actions: Record<string, unknown> = {};
  const tasks: Record<string, unknown> = {};
  const events: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  for (const source of sources) {
    const handlers = handlersOf(source);
    for (const [kind, into, from] of [
      ['action', actions, handlers.actions],
      ['task', tasks, handlers.tasks],
      ['event', events, handlers.events],
      ['request type', messages, handlers.messages ?? {}],
    ] as const) {
      for (const [name, definition] of Object.entries(from)) {
        if (name in into) throw new TypeError(`two handler sources declare the ${kind} ${name}`);
        into[name] = definition;
      }
    }
  }
  return defineService({ actions, tasks, events, messages: messages as MessageHandlers } as Parameters<typeof defineService>[0]) as DefinedService;
}
