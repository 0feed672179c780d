// The broker, the MDP fixture programs and the seed's Python peers as child processes of the
// end-to-end tests (@correio/testing tracks them: killAll in afterEach, even when a test fails).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Child, readMetric, sleep, spawnProgram, workspaceRoot } from '@correio/testing';

export const fixtures = join(import.meta.dirname, '..', 'fixtures');
export const brokerMain = join(workspaceRoot, 'apps', 'broker', 'src', 'main.ts');
export const python = join(workspaceRoot, '.venv', 'bin', 'python');

export function spawnPython(name: string, script: string, args: readonly string[] = []): Child {
  const child = spawn(python, ['-u', script, ...args], { cwd: workspaceRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Child(name, child);
}

/** True when the project's Python environment has pyzmq and msgpack (tools/scripts/setup-peers.sh). */
export function pythonPeersAvailable(): boolean {
  return existsSync(python);
}

export interface BrokerProcess {
  readonly child: Child;
  readonly endpoint: string;
  readonly seedFrontend?: string;
  readonly seedBackend?: string;
  readonly http?: string;
}

/** Starts apps/broker/src/main.ts and waits for its readiness line. */
export async function startBrokerProcess(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<BrokerProcess> {
  const child = spawnProgram('broker', brokerMain, args, { env });
  const line = await child.waitForLine(/^broker ready /);
  const [, , endpoint, ...rest] = line.split(' ');
  const fields = Object.fromEntries(rest.map((part) => part.split('=', 2) as [string, string]));
  return {
    child,
    endpoint: endpoint!,
    ...(fields['seed-frontend'] ? { seedFrontend: fields['seed-frontend'] } : {}),
    ...(fields['seed-backend'] ? { seedBackend: fields['seed-backend'] } : {}),
    ...(fields['http'] ? { http: fields['http'] } : {}),
  };
}

export function startWorker(endpoint: string, service: string, extra: readonly string[] = []): Child {
  return spawnProgram(`worker:${service}`, join(fixtures, 'mdp-worker.ts'), ['--endpoint', endpoint, '--service', service, ...extra]);
}

/** The MDP client fixture; its stdin is open for the go-ahead of --wait-for-go (Child.write). */
export function startClient(endpoint: string, service: string, extra: readonly string[] = []): Child {
  return spawnProgram(`client:${service}`, join(fixtures, 'mdp-client.ts'), ['--endpoint', endpoint, '--service', service, ...extra], { stdin: 'pipe' });
}

/**
 * Waits until the broker counts `n` live workers of `service` (a worker's "ready" line only means
 * READY was queued on its socket, not that the broker has processed it). Needs the broker's --http-port.
 */
export async function awaitWorkers(broker: BrokerProcess, service: string, n: number, timeoutMs = 15_000): Promise<void> {
  if (broker.http === undefined) throw new Error('awaitWorkers needs a broker started with --http-port');
  const deadline = Date.now() + timeoutMs;
  while ((await readMetric(broker.http, 'correio_broker_workers', { service })) < n) {
    if (Date.now() > deadline) throw new Error(`the broker did not see ${n} worker(s) of ${service} within ${timeoutMs} ms`);
    await sleep(25);
  }
}
