// Real processes for the gateway's tests: broker, proxy, chat servers and gateways, each spawned
// from its sources with @correio/testing (tracked for killAll), on free loopback ports.
import { join } from 'node:path';
import { createKeySetIfMissing } from '@correio/identity';
import { afterAll } from 'vitest';
import { killAll, readinessField, scratchDir, spawnProgram, workspaceRoot, type Child, type ScratchDir } from '@correio/testing';

const main = (app: string) => join(workspaceRoot, 'apps', app, 'src', 'main.ts');

const scratches: ScratchDir[] = [];

// Registered as the test file imports this module: vitest runs no hook registered while another
// runs, and startCluster is called from beforeAll (its processes outlived the file before).
afterAll(async () => {
  await killAll();
  for (const scratch of scratches.splice(0)) scratch.remove();
});

/** How long a file's beforeAll may take to start its cluster: each program compiles its sources at start, slow on a busy 2-core machine. */
export const CLUSTER_START_MS = 180_000;

/** How long one program may take to print its readiness line, for the same reason. */
const PROGRAM_START_MS = 60_000;

/** A program of the workspace as a child process, logging at warn. */
export function spawnApp(name: string, app: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Child {
  return spawnProgram(name, main(app), args, { env: { CORREIO_LOG_LEVEL: 'warn', ...env } });
}

export interface Cluster {
  readonly broker: string;
  readonly proxyPub: string;
  readonly proxySub: string;
  readonly servers: Child[];
  readonly dataDir: string;
  readonly auth: 'open' | 'password';
  /** The signing key-set file every server shares (password mode), as in one `correio up` cluster. */
  readonly authKeys: string | undefined;
  /** Every process serves /health and /metrics on a free side port (ClusterOptions.http). */
  readonly http: boolean;
  /** Their monitoring URLs, by process (broker, proxy, ref, s1, …), when `http`. */
  readonly monitoring: Map<string, string>;
  /** Users whose tokens carry the operator role (the servers' --operators). */
  readonly operators: readonly string[];
  /** More flags for every server. */
  readonly serverArgs: readonly string[];
}

export interface ClusterOptions {
  /** Start the reference server too: the servers join through it (rank, election), as under `correio up`. */
  readonly ref?: boolean;
  /** Give every process an HTTP side port (/health, /metrics) on a free port, as under `correio up`. */
  readonly http?: boolean;
  /** The servers' --operators. */
  readonly operators?: readonly string[];
  /** More flags for every server (such as a short --auth-access-ttl). */
  readonly serverArgs?: readonly string[];
}

/**
 * Broker, proxy (and the reference server if asked) and `servers` chat servers (s1, s2, …) replicating
 * with each other; killed after the file's tests. `auth` is the servers' mode (through
 * CORREIO_SERVER_AUTH): open believes a body's user, password wants a token from a password login,
 * which every server verifies with the one key set they share.
 */
export async function startCluster(servers = 1, auth: 'open' | 'password' = 'open', options: ClusterOptions = {}): Promise<Cluster> {
  const scratch = scratchDir('correio-gateway-');
  scratches.push(scratch);
  // Default heartbeats: these tests do not kill servers, and short ones expire workers on a busy machine.
  const sidecar = options.http ? ['--http-port', '0'] : [];
  const broker = spawnApp('broker', 'broker', ['--endpoint', 'tcp://127.0.0.1:*', '--startup-grace', '0', ...sidecar]);
  const proxy = spawnApp('proxy', 'proxy', ['--publishers', 'tcp://127.0.0.1:*', '--subscribers', 'tcp://127.0.0.1:*', ...sidecar]);
  const [brokerLine, proxyLine] = await Promise.all([broker.waitForLine(/^broker ready /, PROGRAM_START_MS), proxy.waitForLine(/^proxy ready /, PROGRAM_START_MS)]);
  const cluster = {
    broker: brokerLine.split(' ')[2]!,
    proxyPub: readinessField(proxyLine, 'publishers')!,
    proxySub: readinessField(proxyLine, 'subscribers')!,
    servers: [] as Child[],
    dataDir: scratch.dir,
    auth,
    authKeys: auth === 'password' ? join(scratch.dir, 'auth-keys.json') : undefined,
    http: options.http ?? false,
    monitoring: new Map<string, string>(),
    operators: options.operators ?? [],
    serverArgs: options.serverArgs ?? [],
  };
  const noteMonitoring = (name: string, line: string) => {
    if (cluster.http) cluster.monitoring.set(name, readinessField(line, 'http')!);
  };
  noteMonitoring('broker', brokerLine);
  noteMonitoring('proxy', proxyLine);
  if (cluster.authKeys !== undefined) await createKeySetIfMissing(cluster.authKeys);
  if (options.ref) {
    const ref = spawnApp('ref', 'ref', ['--broker', cluster.broker, '--proxy-pub', cluster.proxyPub, '--proxy-sub', cluster.proxySub, '--id', 'ref', '--data-dir', join(scratch.dir, 'ref'), ...sidecar]);
    noteMonitoring('ref', await ref.waitForLine(/^ref ready /, PROGRAM_START_MS));
  }
  const ids = Array.from({ length: servers }, (_, index) => `s${index + 1}`);
  await Promise.all(ids.map((id) => startServer(cluster, id, ids.filter((other) => other !== id))));
  return cluster;
}

/** One chat server of the cluster. */
export async function startServer(cluster: Cluster, id: string, peers: readonly string[]): Promise<Child> {
  const child = spawnApp(`server ${id}`, 'server', [
    '--id', id,
    '--data-dir', join(cluster.dataDir, id),
    '--broker', cluster.broker,
    '--proxy-pub', cluster.proxyPub,
    '--proxy-sub', cluster.proxySub,
    ...(peers.length > 0 ? ['--peers', peers.join(',')] : []),
    ...(cluster.http ? ['--http-port', '0'] : []),
    ...(cluster.operators.length > 0 ? ['--operators', cluster.operators.join(',')] : []),
    ...cluster.serverArgs,
  ], { CORREIO_SERVER_AUTH: cluster.auth, ...(cluster.authKeys !== undefined ? { CORREIO_AUTH_KEYS: cluster.authKeys } : {}) });
  const line = await child.waitForLine(/^server ready /, PROGRAM_START_MS);
  if (cluster.http) cluster.monitoring.set(id, readinessField(line, 'http')!);
  cluster.servers.push(child);
  return child;
}

export interface GatewayProcess {
  readonly child: Child;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** ws://127.0.0.1:<port>/v1/stream */
  readonly stream: string;
}

/** apps/gateway as a child process on a free port, in the cluster's auth mode. */
export async function startGateway(cluster: Cluster, args: readonly string[] = [], name = 'gateway'): Promise<GatewayProcess> {
  const child = spawnApp(name, 'gateway', ['--broker', cluster.broker, '--proxy', cluster.proxySub, '--port', '0', '--auth', cluster.auth, ...args]);
  const line = await child.waitForLine(/^gateway ready /, PROGRAM_START_MS);
  const url = readinessField(line, 'url')!;
  return { child, url, stream: `${url.replace(/^http/, 'ws')}/v1/stream` };
}

/** A parsed reply body: tests read its fields freely. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** A JSON request to the gateway: status, headers and parsed body. */
export async function http(url: string, init: { method?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: Headers; body: Json }> {
  const headers: Record<string, string> = { ...(init.body !== undefined || init.raw !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers };
  const response = await fetch(url, { method: init.method ?? (init.body !== undefined || init.raw !== undefined ? 'POST' : 'GET'), headers, ...(init.raw !== undefined ? { body: init.raw } : init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: the text itself
  }
  return { status: response.status, headers: response.headers, body };
}
