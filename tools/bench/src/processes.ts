// Child processes for the benchmarks: each peer runs in its own process, like in production.
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '@correio/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const workspaceRoot = join(import.meta.dirname, '..', '..', '..');
const peers = join(import.meta.dirname, 'peers');
const running = new Set<ChildProcess>();

export interface Peer {
  readonly process: ChildProcess;
  /** Resolves with the first stdout line matching `pattern`. */
  line(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

/** `env` is added to this process's environment. */
export function spawnPeer(command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Peer {
  const child = killOnExit(spawn(command, args, { cwd: workspaceRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let buffered = '';
  const onData = (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    lines.push(...parts);
    for (const wake of waiters) wake();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData); // nats-server logs readiness on stderr
  return {
    process: child,
    line: (pattern, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${command} ${args.join(' ')}: no ${pattern} in ${timeoutMs} ms:\n${lines.slice(-10).join('\n')}`)), timeoutMs);
        const check = () => {
          const found = lines.find((line) => pattern.test(line));
          if (found === undefined) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        waiters.add(check);
        // 'close', not 'exit': a process's last stdout lines may arrive after its exit event.
        child.once('close', () => setImmediate(() => reject(new Error(`${command} exited: ${lines.slice(-10).join('\n')}`))));
        check();
      }),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Registers a child spawned some other way (its own stdio, an IPC channel): killed if the benchmark exits or is interrupted first. */
export function killOnExit(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** The arguments that run a TypeScript file with tsx against the workspace sources (after node's own flags). */
export function tsxArgs(path: string, args: readonly string[]): string[] {
  return ['--import', 'tsx', '--conditions=@correio/source', path, ...args];
}

/** A TypeScript peer from src/peers, run with tsx against the workspace sources. */
export function spawnTsPeer(file: string, args: readonly string[]): Peer {
  return spawnTsScript(join(peers, file), args);
}

/** Any TypeScript file, run with tsx against the workspace sources; `nodeFlags` go to node itself (`--cpu-prof`). */
export function spawnTsScript(path: string, args: readonly string[], nodeFlags: readonly string[] = []): Peer {
  return spawnPeer(process.execPath, [...nodeFlags, ...tsxArgs(path, args)]);
}

export { freePort };

/** `clients` split over as few processes as keep each at `perProcess` or fewer, as evenly as possible. */
export function splitClients(clients: number, perProcess: number): number[] {
  const processes = Math.ceil(clients / perProcess);
  return Array.from({ length: processes }, (_, p) => Math.floor(clients / processes) + (p < clients % processes ? 1 : 0));
}

/** SIGTERM to each peer by PID (so it shuts down cleanly and writes its profile), SIGKILL after `graceMs`. */
export async function stopGracefully(peers: readonly Pick<Peer, 'process'>[], graceMs = 10_000): Promise<void> {
  await Promise.all(
    peers.map(async ({ process: child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }),
  );
}

export async function stopAll(): Promise<void> {
  for (const child of running) child.kill('SIGKILL');
  await new Promise((resolve) => setTimeout(resolve, 200));
}

/** Starts nats-server (Debian package `nats-server`) on a free port. */
/** The Correio broker as deployed (apps/broker's main), bound at a free loopback port with unbounded queues, once ready. */
export async function startCorreioBroker(): Promise<{ peer: Peer; endpoint: string }> {
  const endpoint = `tcp://127.0.0.1:${await freePort()}`;
  const peer = spawnPeer(process.execPath, ['--import', 'tsx', '--conditions=@correio/source', join(workspaceRoot, 'apps/broker/src/main.ts'), '--endpoint', endpoint, '--max-queue', '100000', '--hwm', '0']);
  await peer.line(/^broker ready /);
  return { peer, endpoint };
}

export async function startNats(): Promise<{ peer: Peer; url: string }> {
  const port = await freePort();
  const peer = spawnPeer('nats-server', ['-a', '127.0.0.1', '-p', String(port)]);
  await peer.line(/Server is ready/);
  return { peer, url: `nats://127.0.0.1:${port}` };
}

const scratchDirs = new Set<string>();

/** A fresh directory under `parent` for one system's data: removed by `remove()`, or when the benchmark exits or is interrupted. */
export function scratchUnder(parent: string, prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(parent, prefix));
  scratchDirs.add(path);
  return {
    path,
    remove() {
      scratchDirs.delete(path);
      rmSync(path, { recursive: true, force: true });
    },
  };
}

process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const path of scratchDirs) rmSync(path, { recursive: true, force: true, maxRetries: 3 }); // a killed server may still be closing its files
});
// Interrupted (Ctrl-C) or told to stop: no peer (nats-server, chat server, load) outlives the benchmark.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
