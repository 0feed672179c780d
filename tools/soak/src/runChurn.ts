import { mkdirSync } from 'node:fs';
import type { ExitStatus } from '@correio/testing';
import { readMetric, seededRandom, sleep, waitFor } from '@correio/testing';
import { generateCurveKeyPair, RequestClient } from '@correio/transport';
import { ChurnPeers, splitSockets, type ChurnCounts, type PeerDeath } from './ChurnPeers.js';
import { signIn, type SoakAccount } from './account.js';
import { checkServes, type ServiceCheck } from './checkServes.js';
import { ECHO_SERVICES } from './plan.js';
import { RssPeaks } from './rss.js';
import { startSoakTopology, type SoakTopology } from './topology.js';

/**
 * How far a program's RSS may stay above its post-warm-up baseline once the churn has stopped:
 * the larger of `ratio` × baseline and `floorMiB`. A V8 heap that grew under load is given back
 * lazily and glibc keeps freed native memory in its arenas, so "returned" means "within this",
 * not "equal"; a leak of per-connection state grows past it with the number of connections.
 */
export const RSS_BOUND = { ratio: 0.5, floorMiB: 64 } as const;

export interface ChurnOptions {
  /** Where the ref's and servers' stores go (created when missing). */
  readonly dataDir: string;
  /** How long the measured churn lasts, after the warm-up. */
  readonly durationMs: number;
  /** How long the warm-up churn lasts, before the baseline is read. */
  readonly warmUpMs: number;
  /** Churn sockets alive at once, over all peers. */
  readonly clients: number;
  /** Churn peer processes alive at once. */
  readonly peers: number;
  /** Peers SIGKILLed mid-traffic at least, in the warm-up and in the measured churn each, however long that takes (default 0). */
  readonly minKilled?: number;
  readonly servers?: number;
  readonly proxyMode?: 'native' | 'metered';
  readonly seed?: number;
  /** Routing ids (and user names) shared by every peer: half of the sockets take one of them (default 20). */
  readonly idPool?: number;
  /** How long the programs' RSS may take to come back within RSS_BOUND after the churn. */
  readonly settleMs?: number;
  /** Progress lines, for a long soak. */
  readonly log?: (line: string) => void;
}

export interface ProgramReport {
  readonly name: string;
  readonly pid: number;
  /** Still running when the churn ended. */
  readonly alive: boolean;
  readonly baselineKiB: number;
  readonly peakKiB: number;
  readonly endKiB: number;
  readonly boundKiB: number;
  /** The V8 heap in use (its /metrics), at the baseline and at the end: tells a JavaScript leak from a native one. */
  readonly heapBaselineKiB: number;
  readonly heapEndKiB: number;
  /** How it ended when stopped with SIGTERM after the soak. */
  readonly exit?: ExitStatus;
  /** The tail of its stderr (warnings; an abort message). */
  readonly stderr: string;
}

export interface ChurnReport {
  readonly durationMs: number;
  readonly peers: { readonly started: number; readonly killed: number; readonly unanswered: number; readonly deaths: readonly PeerDeath[] };
  readonly counts: ChurnCounts;
  readonly checks: readonly ServiceCheck[];
  readonly programs: readonly ProgramReport[];
  /** Everything that went wrong, one sentence each; empty when every program survived, served and came back within its RSS bound. */
  readonly failures: readonly string[];
}

/** MDP heartbeats of the broker, ref and servers: a killed worker is forgotten within 3 s, and a starved server is not. */
const HEARTBEAT_MS = 1_000;
const MiB = 1024;

/**
 * The churn soak: starts the broker, proxy, reference server and chat servers (CURVE only), checks
 * that they serve, churns peers for `warmUpMs`, waits until the broker forgot every churn worker,
 * checks again and reads each program's RSS baseline; churns for `durationMs`, settles, checks a
 * third time, waits up to `settleMs` for every RSS to come back within RSS_BOUND of its baseline,
 * and stops the programs with SIGTERM. Never throws for what it measures: the report lists it.
 */
export async function runChurn(options: ChurnOptions): Promise<ChurnReport> {
  const log = options.log ?? (() => undefined);
  const random = seededRandom(options.seed ?? Date.now());
  mkdirSync(options.dataDir, { recursive: true });
  const begun = Date.now();
  const topology = await startSoakTopology({ dataDir: options.dataDir, servers: options.servers ?? 1, proxyMode: options.proxyMode ?? 'native', heartbeatMs: HEARTBEAT_MS });
  const programs = [...topology.programs];
  const pids = new Map(programs.map(([name, child]) => [name, child.process.pid!]));
  const rss = new RssPeaks(pids);
  const failures: string[] = [];
  const checks: ServiceCheck[] = [];
  const check = async (label: string) => {
    try {
      checks.push(await checkServes(topology, label));
    } catch (error) {
      failures.push(`the ${label} check failed: ${(error as Error).message}`);
    }
  };
  const dead = () => programs.filter(([, child]) => !child.alive).map(([name]) => name);
  // The churn peers' chat requests act as one soak user (password mode): register it once, here.
  const account = await soakAccount(topology);

  const peers = new ChurnPeers(
    (name, seed) => ({
      name,
      seed,
      broker: topology.broker,
      publishers: topology.proxy.publishers,
      subscribers: topology.proxy.subscribers,
      serverKey: topology.keys.publicKey,
      serverId: topology.servers[0]!,
      heartbeatMs: HEARTBEAT_MS,
      sockets: splitSockets(Math.ceil(options.clients / options.peers)),
      idPool: options.idPool ?? 20,
      lifetimeMs: 60_000,
      account: { user: account.user, token: account.token, refreshToken: account.refreshToken },
    }),
    random,
  );
  const churn = async (ms: number) => {
    const deadline = Date.now() + ms;
    const progress = setInterval(() => log(progressLine(peers, rss)), 10_000);
    try {
      await peers.run(options.peers, deadline, options.minKilled ?? 0, () => dead().length > 0);
    } finally {
      clearInterval(progress);
    }
  };

  log(`broker, proxy, ref and ${topology.servers.length} server(s) ready in ${Date.now() - begun} ms`);
  const started = Date.now();
  let baseline = new Map<string, number>();
  let heapBaseline = new Map<string, number>();
  try {
    await check('start');
    log(`serving; warm-up churn for ${options.warmUpMs} ms`);
    await churn(options.warmUpMs);
    await settle(topology, failures);
    await check('warm');
    log(`settled and checked after the warm-up in ${Date.now() - started - options.warmUpMs} ms in all`);
    baseline = await medianSample(rss);
    heapBaseline = await heapInUse(topology);
    log(`baseline RSS ${formatKiB(baseline)}; churn for ${options.durationMs} ms with ${options.clients} sockets in ${options.peers} peers at once`);
    await churn(options.durationMs);
    if (dead().length === 0) {
      await settle(topology, failures);
      await check('end');
    }
    const settling = Date.now();
    await waitFor(() => withinBounds(rss.sample(), baseline), 'every RSS within its bound', options.settleMs ?? 30_000, 500).catch(() => undefined);
    log(`churn over, checked; RSS settled for ${Date.now() - settling} ms`);
  } catch (error) {
    failures.push(`the soak stopped: ${(error as Error).message}`);
  }
  const end = rss.sample();
  const heapEnd = await heapInUse(topology);
  rss.stop();
  const survivors = new Set(programs.filter(([, child]) => child.alive).map(([name]) => name));
  const exits = new Map<string, ExitStatus>();
  const stopping = Date.now();
  for (const [name, child] of [...programs].reverse()) exits.set(name, child.alive ? await child.stop(10_000) : await child.exited);
  log(`programs stopped in ${Date.now() - stopping} ms`);

  const report: ChurnReport = {
    durationMs: Date.now() - started,
    peers: { started: peers.started, killed: peers.killed, unanswered: peers.unanswered, deaths: peers.deaths },
    counts: peers.counts,
    checks,
    programs: programs.map(([name, child]) => {
      const baselineKiB = baseline.get(name) ?? 0;
      return {
        name,
        pid: child.process.pid!,
        alive: survivors.has(name),
        baselineKiB,
        peakKiB: rss.peakKiB.get(name) ?? 0,
        endKiB: end.get(name) ?? 0,
        boundKiB: boundKiB(baselineKiB),
        heapBaselineKiB: heapBaseline.get(name) ?? 0,
        heapEndKiB: heapEnd.get(name) ?? 0,
        ...(exits.has(name) ? { exit: exits.get(name)! } : {}),
        stderr: child.stderr.slice(-2_000),
      };
    }),
    failures,
  };
  if (peers.killed === 0) failures.push('no churn peer was SIGKILLed mid-traffic: the churn did not run');
  for (const death of peers.deaths) failures.push(`churn peer ${death.peer} died by itself (code ${death.code}, signal ${death.signal}): ${death.stderr}`);
  for (const program of report.programs) {
    if (!program.alive) failures.push(`${program.name} did not survive the churn: ${JSON.stringify(program.exit ?? 'exited')}; stderr: ${program.stderr}`);
    else if (program.exit?.code !== 0) failures.push(`${program.name} did not stop cleanly on SIGTERM: ${JSON.stringify(program.exit)}`);
    if (baseline.size > 0 && program.endKiB > program.baselineKiB + program.boundKiB) {
      failures.push(`${program.name} RSS ${formatMiB(program.endKiB)} stayed above its baseline ${formatMiB(program.baselineKiB)} + ${formatMiB(program.boundKiB)}`);
    }
  }
  return report;
}

/** Waits until the broker has forgotten every churn worker (MMI 404: their heartbeats stopped when they were killed). */
async function settle(topology: SoakTopology, failures: string[]): Promise<void> {
  const client = new RequestClient({ endpoint: topology.broker[0], from: 'soak-settle', curve: { serverKey: topology.keys.publicKey, ...generateCurveKeyPair() } });
  const services = Array.from({ length: ECHO_SERVICES }, (_, k) => `svc.soak${k}`);
  const gone = async (service: string) => Buffer.from((await client.requestRaw('mmi.service', [service], { timeout: 2_000 }))[0]!).toString() === '404';
  try {
    await waitFor(async () => (await Promise.all(services.map((service) => gone(service).catch(() => false)))).every(Boolean), 'the broker to forget every churn worker', 60_000, 200);
  } catch (error) {
    failures.push((error as Error).message);
  } finally {
    await client.close();
  }
}

/** Each live program's V8 heap in use, in KiB, from its /metrics. */
async function heapInUse(topology: SoakTopology): Promise<Map<string, number>> {
  const heap = new Map<string, number>();
  for (const [name, http] of topology.http) {
    if (!topology.programs.get(name)!.alive) continue;
    const bytes = await readMetric(http, 'correio_nodejs_heap_size_used_bytes').catch(() => undefined);
    if (bytes !== undefined) heap.set(name, Math.round(bytes / 1024));
  }
  return heap;
}

function boundKiB(baselineKiB: number): number {
  return Math.max(Math.round(baselineKiB * RSS_BOUND.ratio), RSS_BOUND.floorMiB * MiB);
}

function withinBounds(now: ReadonlyMap<string, number>, baseline: ReadonlyMap<string, number>): boolean {
  return [...baseline].every(([name, kib]) => (now.get(name) ?? Infinity) <= kib + boundKiB(kib));
}

/** The median of five samples 200 ms apart, per program: one reading can catch a collection half done. */
async function medianSample(rss: RssPeaks): Promise<Map<string, number>> {
  const samples: Array<Map<string, number>> = [];
  for (let i = 0; i < 5; i++) {
    if (i > 0) await sleep(200);
    samples.push(rss.sample());
  }
  const median = new Map<string, number>();
  for (const name of rss.pids.keys()) {
    const values = samples.map((sample) => sample.get(name) ?? 0).sort((a, b) => a - b);
    median.set(name, values[2]!);
  }
  return median;
}

export function formatMiB(kib: number): string {
  return `${(kib / MiB).toFixed(1)} MiB`;
}

function formatKiB(values: ReadonlyMap<string, number>): string {
  return [...values].map(([name, kib]) => `${name} ${formatMiB(kib)}`).join(', ');
}

function progressLine(peers: ChurnPeers, rss: RssPeaks): string {
  const { counts } = peers;
  return `peers ${peers.started} started, ${peers.killed} killed, ${peers.deaths.length} died by themselves | sockets ${counts.opened} | requests ${counts.requests}, replies ${counts.replies}, served ${counts.served} | published ${counts.published}, received ${counts.received} | RSS ${formatKiB(rss.sample())}`;
}

/** Signs the churn peers' user in, through a client of its own. */
async function soakAccount(topology: SoakTopology): Promise<SoakAccount> {
  const client = new RequestClient({ endpoint: topology.broker[0], from: 'soak-account', curve: { serverKey: topology.keys.publicKey, ...generateCurveKeyPair() } });
  try {
    return await signIn(client, topology, 'soak-churn', 60_000);
  } finally {
    await client.close();
  }
}
