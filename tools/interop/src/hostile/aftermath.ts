import type { BodyOf } from '@correio/protocol';
import { spawnProgram, waitFor, type Child } from '@correio/testing';
import { RequestClient } from '@correio/transport';
import { appMain } from '../paths.js';
import { serverArguments, type Topology } from '../Topology.js';
import { signIn } from './credentials.js';

export type Digest = BodyOf<'replica.digest.reply'>;

export interface AftermathOptions {
  /** How long the servers may take to hold the same operations once the sending stopped (ms). */
  readonly convergeMs: number;
  /** How long a restarted server may take to verify its store and serve (ms). */
  readonly startupMs: number;
}

export interface AftermathReport {
  /** Every server's digest once they converged, the same before and after the restart. */
  readonly digests: ReadonlyMap<string, Digest>;
  /** How long convergence took after the honest write (ms). */
  readonly convergedMs: number;
  /** The restarted servers (the topology's own children for them have exited). */
  readonly restarted: ReadonlyMap<string, Child>;
}

// A name the corpus never uses: its users ('honest' among them) may have been registered by its
// chat.register.request shots, with passwords of their own.
const HONEST_USER = 'honest-aftermath';
const HONEST_CHANNEL = 'honest-room';

/**
 * What must hold after a hostile campaign: every process of the topology is still running; an
 * honest client is served (login, channel, publish through `chat`, and every server shows the
 * publication in its history); the servers converge (anti-entropy's guarantee: every server holds
 * every origin's operations up to the same contiguous high-water mark); and each server, stopped
 * with SIGTERM, exits 0 and starts again from its data directory — which verifies the whole store
 * (format, digest, indexes, clock marks) before serving — holding exactly what it held (the same
 * digest: marks, operation count and hash). Throws, naming what failed, otherwise.
 *
 * Why not one hash for all: replication is not authenticated (docs/architecture.md, "Not
 * provided"), so forged operations are stored like real ones, and those of an unknown origin that
 * sit past a gap in its sequence are held by the servers that received them and exchanged by none
 * (anti-entropy compares contiguous marks); two forgeries of one operation id stay different.
 */
export async function checkAftermath(topology: Topology, options: AftermathOptions): Promise<AftermathReport> {
  assertAlive(topology.children.values());
  const client = new RequestClient({ endpoint: topology.broker, from: 'honest-client', timeout: 5_000, retries: 4 });
  try {
    const text = `still here at ${new Date().toISOString()}`;
    const auth = await signIn(client, topology, HONEST_USER, options.convergeMs);
    await client.request('chat', 'chat.channel.create.request', { user: HONEST_USER, channel: HONEST_CHANNEL }, { auth });
    // The server that took the login may not be the one that takes the publish: it may not know the channel yet.
    await waitFor(
      () => client.request('chat', 'chat.publish.request', { user: HONEST_USER, channel: HONEST_CHANNEL, text }, { auth }).then(() => true, () => false),
      'an honest publication to be accepted',
      options.convergeMs,
      100,
    );
    const started = performance.now();
    await converged(client, topology.servers, options.convergeMs);
    const convergedMs = performance.now() - started;
    for (const id of topology.servers) {
      const history = await client.request(`srv.${id}`, 'chat.history.request', { channel: HONEST_CHANNEL, limit: 50 }, { auth });
      const { messages } = history.body as BodyOf<'chat.history.reply'>;
      if (!messages.some((message) => message.text === text)) throw new Error(`${id} does not show the honest publication in #${HONEST_CHANNEL}`);
    }
    const digests = await digestsOf(client, topology.servers);
    assertAlive(topology.children.values());

    // A clean stop, then a start that verifies the store and must find the same operations.
    const stopped = await Promise.all(topology.servers.map(async (id) => [id, await topology.children.get(id)!.stop()] as const));
    const unclean = stopped.filter(([, status]) => status.code !== 0);
    if (unclean.length > 0) throw new Error(`servers did not stop cleanly: ${unclean.map(([id, status]) => `${id} ${JSON.stringify(status)}`).join(', ')}`);
    const restarted = new Map(
      topology.servers.map((id) => [id, spawnProgram(id, appMain('server'), serverArguments(topology, id), { env: { CORREIO_LOG_LEVEL: 'warn' } })]),
    );
    await Promise.all([...restarted.values()].map((child) => child.waitForLine(/^server ready /, options.startupMs)));
    await converged(client, topology.servers, options.convergeMs);
    const after = await digestsOf(client, topology.servers);
    for (const id of topology.servers) {
      const [before, now] = [digests.get(id)!, after.get(id)!];
      if (now.hash !== before.hash || now.ops !== before.ops || canonical(now.hwm) !== canonical(before.hwm)) {
        throw new Error(`${id} restarted holding ${now.ops} operations (${now.hash}, marks ${canonical(now.hwm)}), not the ${before.ops} (${before.hash}, ${canonical(before.hwm)}) it held`);
      }
    }
    assertAlive([...topology.children.values()].filter((child) => !topology.servers.includes(child.name)));
    assertAlive(restarted.values());
    return { digests, convergedMs, restarted };
  } finally {
    await client.close();
  }
}

/** Throws naming every child that has exited, with the tail of its output. */
export function assertAlive(children: Iterable<Child>): void {
  const dead = [...children].filter((child) => !child.alive);
  if (dead.length > 0) throw new Error(`processes died: ${dead.map((child) => child.failure(`exited (${JSON.stringify(child.process.exitCode)})`).message).join('\n')}`);
}

/** Every server's digest (replica.digest.request to srv.<id>), asked once. */
async function digestsOf(client: RequestClient, servers: readonly string[]): Promise<Map<string, Digest>> {
  const replies = await Promise.all(servers.map((id) => client.request(`srv.${id}`, 'replica.digest.request', {})));
  return new Map(servers.map((id, i) => [id, replies[i]!.body as Digest]));
}

/** Polls every server's digest until all hold the same contiguous high-water marks; resolves with those. */
export async function converged(client: RequestClient, servers: readonly string[], timeoutMs: number): Promise<Digest['hwm']> {
  let last = '';
  try {
    return await waitFor(
      async () => {
        const digests = await Promise.all(
          servers.map((id) =>
            client.request(`srv.${id}`, 'replica.digest.request', {}, { retries: 0, timeout: 2_000 }).then(
              (reply) => reply.body as Digest,
              () => undefined,
            ),
          ),
        );
        last = describeDifferences(servers, digests);
        const [first] = digests;
        return first !== undefined && digests.every((digest) => digest !== undefined && canonical(digest.hwm) === canonical(first.hwm)) ? first.hwm : undefined;
      },
      'the servers to converge',
      timeoutMs,
      200,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last digests: ${last}`);
  }
}

/** Each server's operation count and the marks on which the servers disagree (the rest they share). */
function describeDifferences(servers: readonly string[], digests: ReadonlyArray<Digest | undefined>): string {
  const origins = new Set(digests.flatMap((digest) => Object.keys(digest?.hwm ?? {})));
  const differing = [...origins].filter((origin) => new Set(digests.map((digest) => digest?.hwm[origin] ?? 0)).size > 1);
  return digests
    .map((digest, i) => {
      if (!digest) return `${servers[i]}: no answer`;
      const marks = differing.slice(0, 12).map((origin) => `${JSON.stringify(origin.slice(0, 24))}: ${digest.hwm[origin] ?? 0}`);
      return `${servers[i]}: ${digest.ops} ops, ${differing.length} differing marks {${marks.join(', ')}}`;
    })
    .join('; ');
}

/** A map as JSON with sorted keys, to compare two of them. */
function canonical(map: Readonly<Record<string, number>>): string {
  return JSON.stringify(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
