import { join } from 'node:path';
import { createKeySetIfMissing } from '@correio/identity';
import { readinessField, spawnProgram, waitFor, type Child } from '@correio/testing';
import { RequestClient } from '@correio/transport';
import { appMain } from './paths.js';

export interface TopologyOptions {
  /** Every app's data directory goes under it. */
  readonly dataDir: string;
  /** Chat servers srv-1 … srv-N, joined through the reference server (0: none, and no ref). */
  readonly servers?: number;
  /** Start the proxy (implied by servers). */
  readonly proxy?: boolean;
  /** Give the broker the seed-compatible REQ/REP queue too. */
  readonly seed?: boolean;
  /** How long each app may take to print its readiness line (tsx compiles on start; 2 shared cores). */
  readonly startupMs?: number;
  /**
   * The chat servers' identity mode (`--auth`): `password` (the servers' default: register, log in
   * with a password, a token on every request) or `open` (the seed-style mode where a request's
   * body names its user, for tests that act as many users without accounts). Default password.
   */
  readonly auth?: 'password' | 'open';
  /**
   * The key-set file every server signs and verifies tokens with (`--auth-keys`), shared as in one
   * cluster; created with one new key if it does not exist. Default `<dataDir>/auth-keys.json`.
   */
  readonly authKeys?: string;
}

/** Where the running apps can be reached. */
export interface Topology {
  readonly broker: string;
  readonly seed?: { readonly frontend: string; readonly backend: string };
  readonly proxy?: { readonly publishers: string; readonly subscribers: string };
  /** The servers' ids; each serves broker services `chat` and `srv.<id>`. */
  readonly servers: readonly string[];
  readonly children: ReadonlyMap<string, Child>;
  /** Where the apps keep their data (TopologyOptions.dataDir). */
  readonly dataDir: string;
  /** The servers' identity mode and shared key-set file (read it to forge tokens in tests). */
  readonly auth: { readonly mode: 'password' | 'open'; readonly keys: string };
}

const LOOPBACK_ANY_PORT = 'tcp://127.0.0.1:*';

/**
 * The TypeScript side of a Correio system, each app a child process run from its sources under
 * tsx, on free loopback ports, in the order `correio up` starts them: broker and proxy, the
 * reference server, then the chat servers. Resolves once every app printed its readiness line and
 * the broker lists every worker service (MMI), so requests sent next find their workers. The apps
 * are tracked children of @correio/testing: killAll() in afterAll stops them.
 */
export async function startTopology(options: TopologyOptions): Promise<Topology> {
  const startupMs = options.startupMs ?? 60_000;
  const serverCount = options.servers ?? 0;
  const children = new Map<string, Child>();
  const app = (name: string, main: string, args: readonly string[]): Child => {
    const child = spawnProgram(name, main, args, { env: { CORREIO_LOG_LEVEL: 'warn' } });
    children.set(name, child);
    return child;
  };

  const seedArgs = options.seed ? ['--seed-frontend', LOOPBACK_ANY_PORT, '--seed-backend', LOOPBACK_ANY_PORT] : [];
  const broker = app('broker', appMain('broker'), ['--endpoint', LOOPBACK_ANY_PORT, '--id', 'broker-interop', '--startup-grace', '0', ...seedArgs]);
  const withProxy = options.proxy === true || serverCount > 0;
  const proxy = withProxy ? app('proxy', appMain('proxy'), ['--publishers', LOOPBACK_ANY_PORT, '--subscribers', LOOPBACK_ANY_PORT]) : undefined;
  const [brokerLine, proxyLine] = await Promise.all([broker.waitForLine(/^broker ready /, startupMs), proxy?.waitForLine(/^proxy ready /, startupMs)]);
  const topology: Topology = {
    broker: brokerLine.split(' ')[2]!,
    ...(options.seed ? { seed: { frontend: readinessField(brokerLine, 'seed-frontend'), backend: readinessField(brokerLine, 'seed-backend') } } : {}),
    ...(proxyLine !== undefined ? { proxy: { publishers: readinessField(proxyLine, 'publishers'), subscribers: readinessField(proxyLine, 'subscribers') } } : {}),
    servers: Array.from({ length: serverCount }, (_, i) => `srv-${i + 1}`),
    children,
    dataDir: options.dataDir,
    auth: { mode: options.auth ?? 'password', keys: options.authKeys ?? join(options.dataDir, 'auth-keys.json') },
  };
  if (serverCount === 0) return topology;
  await createKeySetIfMissing(topology.auth.keys);

  const ref = app('ref', appMain('ref'), [...wiringArguments(topology), '--id', 'ref', '--data-dir', join(options.dataDir, 'ref')]);
  await ref.waitForLine(/^ref ready /, startupMs);
  await waitForServices(topology.broker, ['ref'], startupMs);

  const servers = topology.servers.map((id) => app(id, appMain('server'), serverArguments(topology, id)));
  await Promise.all(servers.map((server) => server.waitForLine(/^server ready /, startupMs)));
  await waitForServices(topology.broker, ['chat', ...topology.servers.map((id) => `srv.${id}`)], startupMs);
  return topology;
}

/** The command line of chat server `id` of a topology: a restart with it serves from the same store. */
export function serverArguments(topology: Topology, id: string): string[] {
  const auth = ['--auth', topology.auth.mode, '--auth-keys', topology.auth.keys];
  return [...wiringArguments(topology), '--id', id, '--data-dir', join(topology.dataDir, id), '--http-port', '0', ...auth];
}

function wiringArguments(topology: Topology): string[] {
  const { publishers, subscribers } = topology.proxy!;
  return ['--broker', topology.broker, '--proxy-pub', publishers, '--proxy-sub', subscribers];
}

/** Waits until the broker says (MMI) that every one of `services` has a live worker. */
export async function waitForServices(broker: string, services: readonly string[], timeoutMs: number): Promise<void> {
  const client = new RequestClient({ endpoint: broker, from: 'interop-probe' });
  try {
    // A probe that times out (a broker busy with the apps starting on 2 cores) is asked again.
    const exists = async (service: string) =>
      Buffer.from((await client.requestRaw('mmi.service', [service], { timeout: 2_000 }))[0]!).toString() === '200';
    const listed = (service: string) => exists(service).catch(() => false);
    await waitFor(async () => (await Promise.all(services.map(listed))).every(Boolean), `the broker to list ${services.join(', ')}`, timeoutMs, 100);
  } finally {
    await client.close();
  }
}
