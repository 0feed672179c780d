// Real processes for the end-to-end tests: the broker, the proxy and chat servers, each spawned
// under tsx from its sources with @correio/testing, which tracks them for killAll.
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { killAll, scratchDir, spawnProgram, workspaceRoot, type Child, type ScratchDir } from '@correio/testing';

export const serverMain = join(workspaceRoot, 'apps', 'server', 'src', 'main.ts');
export const brokerMain = join(workspaceRoot, 'apps', 'broker', 'src', 'main.ts');
export const proxyMain = join(workspaceRoot, 'apps', 'proxy', 'src', 'main.ts');

/** Short heartbeats everywhere, so a killed server is noticed within a second. */
export const TEST_HEARTBEAT_MS = 250;

/**
 * A program of the workspace as a child process, logging at warn unless `env` says otherwise
 * (whatever the shell's CORREIO_LOG_LEVEL). Servers run --auth open unless told otherwise (a flag
 * beats the variable): these tests are about storage, replication and clocks, and send the body
 * user; the auth*.test.ts files run password mode.
 */
export function spawnTs(name: string, script: string, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Child {
  return spawnProgram(name, script, args, { env: { CORREIO_LOG_LEVEL: 'warn', CORREIO_SERVER_AUTH: 'open', ...env } });
}

export interface FileScratchOptions {
  readonly prefix?: string;
  /** Runs first after all tests: closes the file's clients while the processes still run. */
  readonly closeFirst?: () => Promise<unknown> | undefined;
}

/**
 * A scratch directory for the data of one test file. After all its tests: `closeFirst`, then every
 * child process killed, then the directory removed. Call it at the top of the file.
 */
export function fileScratch(options: FileScratchOptions = {}): ScratchDir {
  const scratch = scratchDir(options.prefix ?? 'correio-server-');
  afterAll(async () => {
    await options.closeFirst?.();
    await killAll();
    scratch.remove();
  });
  return scratch;
}

export interface Infrastructure {
  readonly broker: string;
  readonly proxy: { readonly pub: string; readonly sub: string };
}

/** apps/broker and apps/proxy as child processes on free loopback ports. */
export async function startInfrastructure(): Promise<Infrastructure> {
  const broker = spawnTs('broker', brokerMain, ['--endpoint', 'tcp://127.0.0.1:*', '--heartbeat', String(TEST_HEARTBEAT_MS), '--startup-grace', '0']);
  const proxy = spawnTs('proxy', proxyMain, ['--publishers', 'tcp://127.0.0.1:*', '--subscribers', 'tcp://127.0.0.1:*']);
  const [brokerLine, proxyLine] = await Promise.all([broker.waitForLine(/^broker ready /), proxy.waitForLine(/^proxy ready /)]);
  const field = (line: string, name: string) => new RegExp(`${name}=(\\S+)`).exec(line)![1]!;
  return { broker: brokerLine.split(' ')[2]!, proxy: { pub: field(proxyLine, 'publishers'), sub: field(proxyLine, 'subscribers') } };
}

export interface ServerProcess {
  readonly id: string;
  readonly child: Child;
  readonly readyLine: string;
  readonly http: string;
}

/** apps/server/src/main.ts as a child process (`env`: further variables); resolves at its readiness line. */
export async function startServerProcess(infra: Infrastructure, id: string, dataDir: string, extra: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
  const child = spawnTs(`server ${id}`, serverMain, [
    '--id', id,
    '--data-dir', dataDir,
    '--broker', infra.broker,
    '--proxy-pub', infra.proxy.pub,
    '--proxy-sub', infra.proxy.sub,
    '--heartbeat', String(TEST_HEARTBEAT_MS),
    '--http-port', '0',
    ...extra,
  ], env);
  const readyLine = await child.waitForLine(/^server ready /, 60_000);
  return { id, child, readyLine, http: /http=(\S+)/.exec(readyLine)![1]! };
}

/** One server per id, each on `<dir>/<id>`, started together; `extra` gives each its own flags. */
export function startServerProcesses(infra: Infrastructure, ids: readonly string[], dir: string, extra: (id: string) => readonly string[] = () => []): Promise<ServerProcess[]> {
  return Promise.all(ids.map((id) => startServerProcess(infra, id, join(dir, id), extra(id))));
}
