// redis-server (Debian's package) as a child process on a free loopback port, its append-only file
// in a scratch directory: every write appended, fsynced per `appendfsync` (always: before the
// reply, concurrent clients' writes sharing one fsync; everysec: once a second), no RDB snapshots.
import { spawnSync } from 'node:child_process';
import { freePort, spawnPeer, stopGracefully, type Peer } from '../processes.js';

export interface RedisServer {
  readonly port: number;
  readonly version: string;
  readonly peer: Peer;
  stop(): Promise<void>;
}

const BINARY = process.env['REDIS_SERVER'] ?? 'redis-server';

/** Throws saying how to install it when redis-server does not run here. */
export function redisVersion(): string {
  const result = spawnSync(BINARY, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  const version = /v=(\S+)/.exec(result.stdout ?? '')?.[1];
  if (result.status !== 0 || version === undefined) throw new Error(`${BINARY} does not run here (${result.error?.message ?? result.stderr?.trim() ?? 'no version'}): apt-get install -y redis-server, or set REDIS_SERVER`);
  return version;
}

export async function startRedis(dir: string, appendfsync: 'always' | 'everysec'): Promise<RedisServer> {
  const version = redisVersion();
  const port = await freePort();
  const args = ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--appendonly', 'yes', '--appendfsync', appendfsync, '--save', '', '--daemonize', 'no', '--logfile', '', '--protected-mode', 'yes'];
  const peer = spawnPeer(BINARY, args);
  try {
    await peer.line(/Ready to accept connections/, 20_000);
  } catch (error) {
    await peer.stop();
    throw error;
  }
  return { port, version, peer, stop: () => stopGracefully([peer], 5_000) };
}
