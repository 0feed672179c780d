import type { BodyOf } from '@correio/protocol';
import { DirectRoute, type RequestClient, type SocketOptions } from '@correio/transport';

/** The broker service of the task queue (protocol/FRAMES.md §4.2). */
export const TASKS_SERVICE = 'tasks';

const ASK_TIMEOUT_MS = 5_000;

/**
 * Where a client's `tasks` requests go (protocol revision 1.9): straight to the coordinator's direct
 * endpoint while a connection there is up, through the broker otherwise (DirectRoute). The route is
 * `tasks.route.request` through the broker, which the coordinator answers; an endpoint that stops
 * serving `tasks` (its server no longer coordinates) sends the client back to the broker and makes
 * it ask again.
 */
export function coordinatorRoute(options: {
  readonly broker: Pick<RequestClient, 'request'>;
  readonly brokerEndpoints: string | readonly string[];
  readonly socket?: SocketOptions;
  readonly auth?: () => string | undefined;
}): DirectRoute {
  return new DirectRoute({
    broker: options.broker,
    brokerEndpoints: options.brokerEndpoints,
    service: TASKS_SERVICE,
    ...(options.socket ? { socket: options.socket } : {}),
    find: async () => {
      const auth = options.auth?.();
      const reply = await options.broker.request(TASKS_SERVICE, 'tasks.route.request', {}, { timeout: ASK_TIMEOUT_MS, ...(auth === undefined ? {} : { auth }) });
      const route = reply.body as BodyOf<'tasks.route.reply'>;
      return { server: route.coordinator, ...(route.endpoint === undefined ? {} : { endpoint: route.endpoint }) };
    },
  });
}
