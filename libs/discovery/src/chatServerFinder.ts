import type { RefServersReply } from '@correio/protocol';
import type { RequestClient, RouteAnswer } from '@correio/transport';
import { REF_SERVICE } from './names.js';

const ASK_TIMEOUT_MS = 5_000;

/**
 * Where a client sends its `chat` requests directly (protocol revision 1.9, a DirectRoute's `find`):
 * one server the reference server lists alive with a direct endpoint (`peer`), kept while it stays
 * so — a client's requests then reach one server, which also reads its own writes — or one picked at
 * random, another than the one that just failed when there is another. Asks the list through the
 * broker (`ref.servers.request`, no token needed).
 */
export function chatServerFinder(broker: Pick<RequestClient, 'request'>, random: () => number = Math.random): (after: { readonly failed?: string }) => Promise<RouteAnswer> {
  let current: string | undefined;
  return async ({ failed }) => {
    const reply = await broker.request(REF_SERVICE, 'ref.servers.request', {}, { timeout: ASK_TIMEOUT_MS, retries: 0 });
    const listed = (reply.body as RefServersReply).servers.filter((server) => server.alive && server.peer !== undefined);
    const others = listed.filter((server) => server.server !== failed);
    const chosen = listed.find((server) => server.server === current && server.server !== failed) ?? pick(others.length > 0 ? others : listed, random);
    current = chosen?.server;
    return chosen === undefined ? {} : { server: chosen.server, endpoint: chosen.peer! };
  };
}

function pick<T>(items: readonly T[], random: () => number): T | undefined {
  return items[Math.min(items.length - 1, Math.floor(random() * items.length))];
}
