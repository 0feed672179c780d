import { createHash } from 'node:crypto';
import type { RefServersReply } from '@correio/protocol';
import type { RequestClient, RouteAnswer } from '@correio/transport';
import { REF_SERVICE } from './names.js';

const ASK_TIMEOUT_MS = 5_000;

export interface ChatServerFinderOptions {
  /**
   * Pins the choice to a key, such as the one channel a client writes to: every client with the
   * same key picks the same server while it is listed, so that server is the origin of all of that
   * channel's writes and commits and replicates them in shared batches (docs/benchmarks.md,
   * "Writes of a channel through one origin"). Rendezvous hashing: a server joining or leaving
   * moves only the keys it gains or held. Default: no key, one server at random.
   */
  readonly key?: string;
  /** The random choice without a key (tests pass their own). */
  readonly random?: () => number;
}

type Listed = RefServersReply['servers'][number];

/**
 * Where a client sends its `chat` requests directly (protocol revision 1.9, a DirectRoute's `find`):
 * one server the reference server lists alive with a direct endpoint (`peer`), kept while it stays
 * so — a client's requests then reach one server, which also reads its own writes — or, when there
 * is none yet or it just failed, the key's server (`key`) or one at random, another than the one
 * that failed when there is another. Asks the list through the broker (`ref.servers.request`, no
 * token needed).
 */
export function chatServerFinder(broker: Pick<RequestClient, 'request'>, options: ChatServerFinderOptions = {}): (after: { readonly failed?: string }) => Promise<RouteAnswer> {
  const random = options.random ?? Math.random;
  let current: string | undefined;
  return async ({ failed }) => {
    const reply = await broker.request(REF_SERVICE, 'ref.servers.request', {}, { timeout: ASK_TIMEOUT_MS, retries: 0 });
    const listed = (reply.body as RefServersReply).servers.filter((server) => server.alive && server.peer !== undefined);
    const others = listed.filter((server) => server.server !== failed);
    const candidates = others.length > 0 ? others : listed;
    const chosen =
      listed.find((server) => server.server === current && server.server !== failed) ??
      (options.key === undefined ? pick(candidates, random) : byRendezvous(candidates, options.key));
    current = chosen?.server;
    return chosen === undefined ? {} : { server: chosen.server, endpoint: chosen.peer! };
  };
}

function pick<T>(items: readonly T[], random: () => number): T | undefined {
  return items[Math.min(items.length - 1, Math.floor(random() * items.length))];
}

/** The server with the highest weight for `key` (ties, which a 64-bit weight makes unlikely, go to the lower id). */
function byRendezvous(servers: readonly Listed[], key: string): Listed | undefined {
  let best: { server: Listed; weight: bigint } | undefined;
  for (const server of servers) {
    const weight = createHash('sha256').update(key).update('\0').update(server.server).digest().readBigUInt64BE(0);
    if (best === undefined || weight > best.weight || (weight === best.weight && server.server < best.server.server)) best = { server, weight };
  }
  return best?.server;
}
