// The deployed topology as child processes, each started from its app's main.ts like `correio up`
// does: reference server, broker, proxy and the chat servers (LMDB with fsync on commit, the
// default; nothing is switched to an unsafe mode).
import { createKeySetIfMissing } from '@correio/identity';
import { join } from 'node:path';
import { spawnPeer, stopGracefully, workspaceRoot, type Peer } from '../processes.js';

export interface TopologyOptions {
  /** Chat server ids. */
  readonly servers: readonly string[];
  /** `--ack-peers` of every server. */
  readonly ackPeers: number;
  /** Parent directory of the ref's and the servers' data directories (must be a real disk for fsync to mean anything). */
  readonly dataRoot: string;
  /** Extra flags for every chat server (`--concurrency 32`). */
  readonly serverFlags: readonly string[];
  /** When set, the broker, the proxy and the servers run under `node --cpu-prof` and write their profiles here on exit. */
  readonly profileDir?: string;
}

export interface Process {
  readonly name: string;
  readonly peer: Peer;
}

export interface Topology {
  readonly broker: string;
  readonly proxy: { readonly pub: string; readonly sub: string };
  /** Server id → its `/health` URL. */
  readonly health: ReadonlyMap<string, string>;
  readonly processes: readonly Process[];
  /** SIGTERM to every process (so profiles are written), SIGKILL after a grace period. */
  stop(): Promise<void>;
}

function spawnApp(app: string, args: readonly string[], profileDir?: string): Peer {
  // One directory per process: each of its threads (tsx's loader runs in one) writes its own profile there.
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, `${app}${/--id (\S+)/.exec(args.join(' '))?.[1] ?? ''}`)}`] : [];
  return spawnPeer(process.execPath, [...profile, '--import', 'tsx', '--conditions=@correio/source', join(workspaceRoot, 'apps', app, 'src', 'main.ts'), ...args]);
}

function field(line: string, name: string): string {
  const value = new RegExp(`${name}=(\\S+)`).exec(line)?.[1];
  if (value === undefined) throw new Error(`no ${name}= in "${line}"`);
  return value;
}

export async function startTopology(options: TopologyOptions): Promise<Topology> {
  const processes: Process[] = [];
  const stop = () => stopGracefully(processes.map(({ peer }) => peer));
  try {
    const broker = spawnApp('broker', ['--endpoint', 'tcp://127.0.0.1:*', '--startup-grace', '0'], options.profileDir);
    processes.push({ name: 'broker', peer: broker });
    const proxy = spawnApp('proxy', ['--publishers', 'tcp://127.0.0.1:*', '--subscribers', 'tcp://127.0.0.1:*'], options.profileDir);
    processes.push({ name: 'proxy', peer: proxy });
    const [brokerLine, proxyLine] = await Promise.all([broker.line(/^broker ready /, 60_000), proxy.line(/^proxy ready /, 60_000)]);
    const endpoint = brokerLine.split(' ')[2]!;
    const pub = field(proxyLine, 'publishers');
    const sub = field(proxyLine, 'subscribers');
    const wiring = ['--broker', endpoint, '--proxy-pub', pub, '--proxy-sub', sub];
    const ref = spawnApp('ref', ['--data-dir', join(options.dataRoot, 'ref'), ...wiring]);
    processes.push({ name: 'ref', peer: ref });
    await ref.line(/^ref ready /, 60_000);
    // Password mode, as in earnest: one key set for the servers; tokens outlive the longest run.
    const authKeys = join(options.dataRoot, 'auth-keys.json');
    await createKeySetIfMissing(authKeys);
    const auth = ['--auth', 'password', '--auth-keys', authKeys, '--auth-access-ttl', '120m'];
    const servers = options.servers.map((id) => {
      const peer = spawnApp(
        'server',
        ['--id', id, '--data-dir', join(options.dataRoot, id), ...wiring, '--ack-peers', String(options.ackPeers), '--http-port', '0', ...auth, ...options.serverFlags],
        options.profileDir,
      );
      processes.push({ name: `server ${id}`, peer });
      return { id, peer };
    });
    const health = new Map<string, string>();
    for (const { id, peer } of servers) health.set(id, `${field(await peer.line(/^server ready /, 120_000), 'http')}/health`);
    return { broker: endpoint, proxy: { pub, sub }, health, processes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
