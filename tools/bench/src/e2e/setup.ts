// What every end-to-end run needs before it measures: a data directory on a real disk, and a
// registered, logged-in user with its channels, replicated to every server.
import { statfsSync } from 'node:fs';
import { RequestClient } from '@correio/transport';
import { untilConverged } from './observe.js';
import type { Topology } from './topology.js';

const BENCH_PASSWORD = 'bench password';
const TMPFS_MAGIC = 0x01021994;
/** Right after start a peer may refuse a write's confirmation (UNAVAILABLE) until the membership lists its origin: retry for a few seconds. */
const SETUP_RETRIES = { retries: 20, backoff: { initialMs: 100, maxMs: 1_000 } } as const;

/** `dir`, unless it is a tmpfs, where fsync is free and no durable write would be measured. */
export function requireRealDisk(dir: string): string {
  if (statfsSync(dir).type === TMPFS_MAGIC) {
    throw new Error(`${dir} is a tmpfs: fsync there is free and the benchmark would not measure durable writes; pass --data-root <dir on a disk>`);
  }
  return dir;
}

/** Registers the user `bench` (password mode), logs it in and creates `channels`: resolves with its access token once every server holds them. */
export async function prepareBenchUser(topology: Topology, channels: readonly string[]): Promise<string> {
  const client = new RequestClient({ endpoint: topology.broker, from: 'bench-setup', timeout: 20_000 });
  try {
    await client.request('srv.s1', 'chat.register.request', { user: 'bench', password: BENCH_PASSWORD }, SETUP_RETRIES);
    const { token } = (await client.request('srv.s1', 'chat.login.request', { user: 'bench', password: BENCH_PASSWORD }, SETUP_RETRIES)).body as { token?: string };
    for (const channel of channels) {
      await client.request('srv.s1', 'chat.channel.create.request', { user: 'bench', channel }, { ...SETUP_RETRIES, auth: token! });
    }
    // The registration is replicated with the channels: once converged, every server accepts the token.
    if ((await untilConverged(topology.health, 30_000)) === undefined) throw new Error('the servers did not converge after the setup writes');
    return token!;
  } finally {
    await client.close();
  }
}
