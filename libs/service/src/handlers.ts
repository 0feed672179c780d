import { collectHandlers, hasDecoratedMethods } from './decorators.js';
import { isDefinedService, type ServiceHandlers } from './definition.js';

/**
 * The handlers of a service, from either form: a `defineService({...})` object, or an instance of a
 * class whose methods carry @action, @task, @on or @handles (bound to that instance).
 */
export function handlersOf(source: object): ServiceHandlers {
  if (isDefinedService(source)) return { actions: source.actions, tasks: source.tasks, events: source.events, messages: source.messages };
  if (hasDecoratedMethods(source)) return collectHandlers(source);
  throw new TypeError('handlers must come from defineService({...}) or be an instance of a class with @action, @task, @on or @handles methods');
}
