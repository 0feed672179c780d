import { join } from 'node:path';
import { createKeySetIfMissing } from '@correio/identity';
import { readinessField, spawnProgram, workspaceRoot, type Child } from '@correio/testing';
import { generateCurveKeyPair, type CurveKeyPair } from '@correio/transport';

export interface SoakTopologyOptions {
  /** The ref's and servers' data directories and the broker's ipc endpoint go under it. */
  readonly dataDir: string;
  /** Chat servers srv-1 … srv-N. */
  readonly servers: number;
  readonly proxyMode: 'native' | 'metered';
  /** The broker's, ref's and servers' MDP heartbeat interval. */
  readonly heartbeatMs: number;
  /** How long each program may take to print its readiness line (tsx compiles on start; 2 shared cores). */
  readonly startupMs?: number;
}

/** The long-running programs under soak, all serving CURVE only, and where to reach them. */
export interface SoakTopology {
  /** The broker's tcp endpoint, then its ipc endpoint. */
  readonly broker: readonly [string, string];
  readonly proxy: { readonly publishers: string; readonly subscribers: string };
  readonly servers: readonly string[];
  /** The broker's and the proxy's CURVE key pair. */
  readonly keys: CurveKeyPair;
  /** broker, proxy, ref, srv-1 … in start order. */
  readonly programs: ReadonlyMap<string, Child>;
  /** Each program's HTTP side port (/health, /metrics), by name. */
  readonly http: ReadonlyMap<string, string>;
}

const LOOPBACK_ANY_PORT = 'tcp://127.0.0.1:*';

function appMain(app: 'broker' | 'proxy' | 'ref' | 'server'): string {
  return join(workspaceRoot, 'apps', app, 'src', 'main.ts');
}

/**
 * Starts the broker (tcp and ipc) and the proxy on a fresh CURVE key pair, then the reference
 * server and the chat servers as CURVE clients of both, each a tracked child process run from its
 * sources (killAll() stops them). Resolves once every program printed its readiness line.
 */
export async function startSoakTopology(options: SoakTopologyOptions): Promise<SoakTopology> {
  const startupMs = options.startupMs ?? 120_000;
  const keys = generateCurveKeyPair();
  const programs = new Map<string, Child>();
  const http = new Map<string, string>();
  const start = (name: string, main: string, args: readonly string[]) => {
    programs.set(name, spawnProgram(name, main, [...args, '--http-port', '0'], { env: { CORREIO_LOG_LEVEL: 'warn' } }));
  };
  const ready = async (name: string, pattern: RegExp): Promise<string> => {
    const line = await programs.get(name)!.waitForLine(pattern, startupMs);
    http.set(name, readinessField(line, 'http'));
    return line;
  };
  const heartbeat = String(options.heartbeatMs);
  const ipc = `ipc://${join(options.dataDir, 'broker.ipc')}`;
  const secret = ['--curve-secret-key', keys.secretKey];
  start('broker', appMain('broker'), ['--endpoint', LOOPBACK_ANY_PORT, '--endpoint', ipc, '--id', 'broker-soak', '--heartbeat', heartbeat, '--startup-grace', '0', ...secret]);
  start('proxy', appMain('proxy'), ['--publishers', LOOPBACK_ANY_PORT, '--subscribers', LOOPBACK_ANY_PORT, '--mode', options.proxyMode, ...secret]);
  const [brokerLine, proxyLine] = await Promise.all([ready('broker', /^broker ready /), ready('proxy', /^proxy ready /)]);
  const topology = {
    broker: [brokerLine.split(' ')[2]!, ipc] as const,
    proxy: { publishers: readinessField(proxyLine, 'publishers'), subscribers: readinessField(proxyLine, 'subscribers') },
    servers: Array.from({ length: options.servers }, (_, i) => `srv-${i + 1}`),
    keys,
    programs,
    http,
  };

  const wiring = ['--broker', topology.broker[0], '--proxy-pub', topology.proxy.publishers, '--proxy-sub', topology.proxy.subscribers, '--curve-server-key', keys.publicKey];
  // Password mode, as a cluster runs in earnest: the servers share one signing key set.
  const authKeys = join(options.dataDir, 'auth-keys.json');
  await createKeySetIfMissing(authKeys);
  start('ref', appMain('ref'), [...wiring, '--id', 'ref-soak', '--data-dir', join(options.dataDir, 'ref'), '--broker-heartbeat', heartbeat]);
  await ready('ref', /^ref ready /);
  for (const id of topology.servers) start(id, appMain('server'), [...wiring, '--id', id, '--data-dir', join(options.dataDir, id), '--heartbeat', heartbeat, '--auth', 'password', '--auth-keys', authKeys]);
  await Promise.all(topology.servers.map((id) => ready(id, /^server ready /)));
  return topology;
}
