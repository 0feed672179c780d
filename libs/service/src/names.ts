import { BadRequestError } from '@correio/codec';

// The patterns of protocol/schemas/v1/defs.json, so a bad name fails at definition time, not on the wire.
// A service name must also be the head of an actionName: one to three segments, each starting with a letter.
const SERVICE_NAME = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*){0,2}$/;
const METHOD_NAME = /^[a-z][a-zA-Z0-9_]*$/;
const ACTION_NAME = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*){0,2}\.[a-z][a-zA-Z0-9_]*$/;
const EVENT_NAME = /^[a-z][a-zA-Z0-9_]*(\.[a-z][a-zA-Z0-9_]*){0,7}$/;

/** The proxy namespace of announcements (FRAMES.md §4.1): subscribing to it hears every service. */
export const ANNOUNCE_NAMESPACE = 'announce/';

export function isServiceName(name: string): boolean {
  return name.length <= 64 && SERVICE_NAME.test(name);
}

export function isEventName(name: string): boolean {
  return EVENT_NAME.test(name) && name.length <= 128;
}

export function assertServiceName(name: string): void {
  if (!isServiceName(name)) {
    throw new RangeError(`invalid service name ${JSON.stringify(name)}: use 1 to 3 lower-case dot-separated segments such as "users" or "chat.rooms"`);
  }
}

export function assertMethodName(service: string, method: string): string {
  const action = `${service}.${method}`;
  if (!METHOD_NAME.test(method) || !ACTION_NAME.test(action) || action.length > 128) {
    throw new RangeError(`invalid action name ${JSON.stringify(action)}: a method name starts with a lower-case letter, then letters, digits or _`);
  }
  return action;
}

export function assertEventName(name: string): void {
  if (!isEventName(name)) {
    throw new RangeError(
      `invalid event name ${JSON.stringify(name)}: use 1 to 8 dot-separated segments such as "user.joined"`,
    );
  }
}

/** Splits `greeter.hello` into its service (`greeter`) and method (`hello`): the service is everything before the last dot. */
export function splitAction(action: string): { readonly service: string; readonly method: string } {
  const dot = action.lastIndexOf('.');
  if (dot <= 0 || !ACTION_NAME.test(action)) {
    throw new BadRequestError(`invalid action name ${JSON.stringify(action)}: expected <service>.<method>, such as greeter.hello`, {
      data: { action },
    });
  }
  return { service: action.slice(0, dot), method: action.slice(dot + 1) };
}

/** The MDP service (broker service name) that serves a Correio service's actions and emitted events. */
export function brokerServiceName(service: string): string {
  return `svc.${service}`;
}

/** The proxy topic of a broadcast event: the trailing slash stops `user` from prefix-matching `user.joined`. */
export function eventTopic(event: string): string {
  return `svc/${event}/`;
}

/** The proxy topic a service's instances announce themselves on (FRAMES.md §4.1). */
export function announceTopic(service: string): string {
  return `${ANNOUNCE_NAMESPACE}${service}/`;
}
