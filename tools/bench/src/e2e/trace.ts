// Where one acknowledged write's time goes: the bench:e2e topology (ref, broker, proxy, 3 servers,
// --ack-peers 2, LMDB fsync on a real disk) with CORREIO_TRACE_WRITES set, one client sending
// --writes sequential publications, each hop's timestamps joined by request id, and each
// process's CPU and context switches per write (net of the same processes at rest).
//   npm run bench:trace [-- --writes 500 --warmup 50 --ack-peers 2 --data-root <dir on a disk> --keep-trace --no-trace --profile-dir <dir>]
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createWriteTrace } from '@correio/observability';
import { RequestClient, Subscriber } from '@correio/transport';
import { processCpuSeconds, threadCpuMs } from '../cpuTime.js';
import { arg, numberArg } from '../peers/args.js';
import { stopAll } from '../processes.js';
import { percentile, sortSamples } from '../stats.js';
import { prepareBenchUser, requireRealDisk } from './setup.js';
import { startTopology, type Topology } from './topology.js';

const writes = numberArg('writes', 500);
const warmup = numberArg('warmup', 50);
const ackPeers = numberArg('ack-peers', 2);
const dataParent = requireRealDisk(resolve(arg('data-root', tmpdir())));
const keepTrace = process.argv.includes('--keep-trace');
/** Runs the same writes with tracing off: throughput and CPU without the tracer's own cost. */
const traced = !process.argv.includes('--no-trace');
/** Where the broker, the proxy and the servers write CPU profiles (profile-summary.ts reads them). */
const profileDir = arg('profile-dir', '') || undefined;
const SERVERS = ['s1', 's2', 's3'];
const CHANNEL = 'trace';

interface Counters {
  /** utime + stime, ms (clock ticks: 10 ms resolution; fine over a few seconds). */
  readonly cpuMs: number;
  readonly voluntary: number;
  readonly involuntary: number;
  readonly threads: number;
  /** Voluntary switches by thread name (main thread, libuv pool, ZeroMQ's I/O thread, ...): who wakes up. */
  readonly byThread: ReadonlyMap<string, number>;
  /** CPU ms by thread name: who does the work. */
  readonly cpuByThread: ReadonlyMap<string, number>;
}

function counters(pid: number): Counters {
  let voluntary = 0;
  let involuntary = 0;
  const byThread = new Map<string, number>();
  const tasks = readdirSync(`/proc/${pid}/task`);
  for (const tid of tasks) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      const own = Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      voluntary += own;
      involuntary += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      const name = tid === String(pid) ? 'main' : (/^Name:\s+(.+)$/m.exec(status)?.[1] ?? '?');
      byThread.set(name, (byThread.get(name) ?? 0) + own);
    } catch {
      // the thread ended meanwhile
    }
  }
  return { cpuMs: processCpuSeconds(pid) * 1000, voluntary, involuntary, threads: tasks.length, byThread, cpuByThread: threadCpuMs(pid) };
}

function sampleAll(pids: ReadonlyMap<string, number>): Map<string, Counters> {
  return new Map([...pids].map(([name, pid]) => [name, counters(pid)]));
}

function delta(after: Map<string, Counters>, before: Map<string, Counters>): Map<string, Counters> {
  return new Map(
    [...after].map(([name, a]) => {
      const b = before.get(name)!;
      const minus = (now: ReadonlyMap<string, number>, then: ReadonlyMap<string, number>) => new Map([...now].map(([thread, n]) => [thread, n - (then.get(thread) ?? 0)]));
      const byThread = minus(a.byThread, b.byThread);
      const cpuByThread = minus(a.cpuByThread, b.cpuByThread);
      return [name, { cpuMs: a.cpuMs - b.cpuMs, voluntary: a.voluntary - b.voluntary, involuntary: a.involuntary - b.involuntary, threads: a.threads, byThread, cpuByThread }];
    }),
  );
}

/** hop → key → [process, epoch ms, detail][] from every process's trace file. */
type Events = Map<string, Map<string, { proc: string; at: number; detail: string | undefined }[]>>;

function readTraces(dir: string, names: ReadonlyMap<number, string>): Events {
  const events: Events = new Map();
  for (const file of readdirSync(dir)) {
    const pid = Number(/^trace-(\d+)\.log$/.exec(file)?.[1]);
    const proc = names.get(pid) ?? `pid ${pid}`;
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      const [at, hop, key, detail] = line.split(' ');
      if (!hop || !key) continue;
      let byKey = events.get(hop);
      if (!byKey) events.set(hop, (byKey = new Map()));
      let list = byKey.get(key);
      if (!list) byKey.set(key, (list = []));
      list.push({ proc, at: Number(at), detail });
    }
  }
  return events;
}

async function run(topology: Topology, traceDir: string): Promise<void> {
  const token = await prepareBenchUser(topology, [CHANNEL]);
  const clientTrace = traced ? createWriteTrace(traceDir) : () => undefined;
  const subscriber = new Subscriber({ topics: [`chan/${CHANNEL}/`], receiveHighWaterMark: 0 });
  subscriber.connect(topology.proxy.sub);
  const fanout = (async () => {
    for await (const publication of subscriber) {
      if (publication.envelope.type === 'chat.publication') clientTrace('client.fanout', publication.envelope.body.text);
    }
  })();
  const client = new RequestClient({ endpoint: topology.broker, from: 'trace', timeout: 10_000 });
  const pids = new Map(topology.processes.map(({ name, peer }) => [name, peer.process.pid!]));
  pids.set('client', process.pid);
  const latenciesUs: number[] = [];
  const publish = async (id: string) => {
    const started = performance.now();
    clientTrace('client.sent', id);
    const reply = await client.request('chat', 'chat.publish.request', { user: 'bench', channel: CHANNEL, text: id }, { id, auth: token, retries: 0 });
    clientTrace('client.acked', id);
    latenciesUs.push((performance.now() - started) * 1_000);
    if (reply.type !== 'chat.publish.reply') throw new Error(`unexpected reply ${reply.type}`);
  };
  try {
    await new Promise((done) => setTimeout(done, 1_000)); // the subscription travels to the proxy
    for (let i = 0; i < warmup; i++) await publish(`warm-${i}`);
    // The same processes idle for a while: heartbeats, membership, anti-entropy, polls are subtracted per second.
    const restStart = sampleAll(pids);
    const restFrom = performance.now();
    await new Promise((done) => setTimeout(done, 2_000));
    const rest = delta(sampleAll(pids), restStart);
    const restSeconds = (performance.now() - restFrom) / 1_000;

    const before = sampleAll(pids);
    const from = performance.now();
    latenciesUs.length = 0;
    for (let i = 0; i < writes; i++) await publish(`w-${i}`);
    const sorted = sortSamples(latenciesUs);
    process.stdout.write(`client-measured ack latency: p50 ${(percentile(sorted, 50) / 1_000).toFixed(2)} ms, p99 ${(percentile(sorted, 99) / 1_000).toFixed(2)} ms\n`);
    const seconds = (performance.now() - from) / 1_000;
    const loaded = delta(sampleAll(pids), before);
    await new Promise((done) => setTimeout(done, 1_500)); // the last fan-outs arrive, every process flushes its trace
    const events = traced ? readTraces(traceDir, new Map([...pids].map(([name, pid]) => [pid, name]))) : new Map();
    report(events, loaded, rest, seconds, restSeconds);
  } finally {
    await client.close();
    await subscriber.close();
    await fanout.catch(() => undefined);
  }
}

/** A chain of hops per write: each step's time is the later event minus the earlier one. */
interface Step {
  readonly label: string;
  readonly ms: (key: string) => number | undefined;
}

function report(events: Events, loaded: Map<string, Counters>, rest: Map<string, Counters>, seconds: number, restSeconds: number): void {
  const at = (hop: string, key: string | undefined, proc?: string, detail?: string): number | undefined =>
    key === undefined ? undefined : events.get(hop)?.get(key)?.find((e) => (proc === undefined || e.proc === proc) && (detail === undefined || e.detail === detail))?.at;
  const origin = (key: string) => events.get('server.commit.start')?.get(key)?.[0]?.proc;
  /** The peers that confirmed `key`, in the order the origin heard them. */
  const peers = (key: string) =>
    (events.get('origin.apply.confirmed')?.get(key) ?? [])
      .slice()
      .sort((a, b) => a.at - b.at)
      .map((e) => e.detail!);
  /** The id of the `replica.apply.request` that carried `key` to `peer` (logged by that peer). */
  const batch = (key: string, peer: string) => events.get('peer.apply.start')?.get(key)?.find((e) => e.proc === `server ${peer}`)?.detail;
  const between = (label: string, from: (key: string) => number | undefined, to: (key: string) => number | undefined): Step => ({
    label,
    ms: (key) => {
      const a = from(key);
      const b = to(key);
      return a === undefined || b === undefined ? undefined : b - a;
    },
  });
  const onOrigin = (hop: string) => (key: string) => at(hop, key, origin(key));
  const peerHop = (rank: number, hop: string, byBatch: boolean, proc: 'peer' | 'broker' = 'peer') => (key: string) => {
    const peer = peers(key)[rank];
    if (peer === undefined) return undefined;
    const process = proc === 'broker' ? 'broker' : `server ${peer}`;
    return byBatch ? at(hop, batch(key, peer), process) : at(hop, key, process);
  };
  const sentTo = (rank: number) => (key: string) => {
    const peer = peers(key)[rank];
    return peer === undefined ? undefined : at('origin.apply.sent', key, origin(key), peer);
  };
  const confirmedBy = (rank: number) => (key: string) => {
    const peer = peers(key)[rank];
    return peer === undefined ? undefined : at('origin.apply.confirmed', key, origin(key), peer);
  };
  const steps: Step[] = [
    between('client send → broker receives', (k) => at('client.sent', k), (k) => at('broker.request', k, 'broker')),
    between('broker: receive → dispatch to a server', (k) => at('broker.request', k, 'broker'), (k) => at('broker.dispatched', k, 'broker')),
    between('broker → origin server receives', (k) => at('broker.dispatched', k, 'broker'), onOrigin('worker.received')),
    between('origin: decode + validate request', onOrigin('worker.received'), onOrigin('worker.decoded')),
    between('origin: service middleware → publish handler', onOrigin('worker.decoded'), onOrigin('server.handler')),
    between('origin: token check (auth) → commit called', onOrigin('server.handler'), onOrigin('server.commit.start')),
    between('origin: commit queued → inside txn', onOrigin('server.commit.start'), onOrigin('server.commit.txn')),
    between('origin: txn → durable (commit + fsync)', onOrigin('server.commit.txn'), onOrigin('server.commit.durable')),
    between('origin: announce (fan-out publish)', onOrigin('server.commit.durable'), onOrigin('server.announced')),
    between('origin: announced → batch handed to the transport', onOrigin('server.announced'), sentTo(0)),
  ];
  for (const [rank, name] of [[0, 'first peer'], [1, 'second peer']] as const) {
    steps.push(
      between(`${name}: origin encode + send → broker receives`, sentTo(rank), peerHop(rank, 'broker.request', true, 'broker')),
      between(`${name}: broker receive → dispatch`, peerHop(rank, 'broker.request', true, 'broker'), peerHop(rank, 'broker.dispatched', true, 'broker')),
      between(`${name}: broker → peer receives`, peerHop(rank, 'broker.dispatched', true, 'broker'), peerHop(rank, 'worker.received', true)),
      between(`${name}: decode + validate batch`, peerHop(rank, 'worker.received', true), peerHop(rank, 'worker.decoded', true)),
      between(`${name}: middleware → apply`, peerHop(rank, 'worker.decoded', true), peerHop(rank, 'peer.apply.start', false)),
      between(`${name}: apply → durable (txn + fsync)`, peerHop(rank, 'peer.apply.start', false), peerHop(rank, 'peer.apply.durable', false)),
      between(`${name}: durable → reply built`, peerHop(rank, 'peer.apply.durable', false), peerHop(rank, 'worker.replied', true)),
      between(`${name}: reply → broker relays it`, peerHop(rank, 'worker.replied', true), peerHop(rank, 'broker.replied', true, 'broker')),
      between(`${name}: broker → origin has the confirmation`, peerHop(rank, 'broker.replied', true, 'broker'), confirmedBy(rank)),
      between(`${name}: whole round trip (sent → confirmed)`, sentTo(rank), confirmedBy(rank)),
    );
  }
  steps.push(
    between('origin: last confirmation → confirm() resumes', confirmedBy(1), onOrigin('server.confirmed')),
    between('origin: confirmed → handler returns', onOrigin('server.confirmed'), onOrigin('worker.handled')),
    between('origin: encode + validate reply', onOrigin('worker.handled'), onOrigin('worker.replied')),
    between('origin reply → broker relays it', onOrigin('worker.replied'), (k) => at('broker.replied', k, 'broker')),
    between('broker → client has the ack', (k) => at('broker.replied', k, 'broker'), (k) => at('client.acked', k)),
    between('total: client send → ack', (k) => at('client.sent', k), (k) => at('client.acked', k)),
    between('fan-out: announced → subscriber receives', onOrigin('server.announced'), (k) => at('client.fanout', k)),
    between('fan-out: client send → subscriber receives', (k) => at('client.sent', k), (k) => at('client.fanout', k)),
  );
  const keys = Array.from({ length: writes }, (_, i) => `w-${i}`);
  const ms = (n: number) => (Number.isNaN(n) ? '–' : n < 1 ? `${(n * 1_000).toFixed(0)} µs` : `${n.toFixed(2)} ms`);
  // The machine is shared: its load says how far these figures are from a quiet one.
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  process.stdout.write(`\n${writes} sequential acknowledged publications, --ack-peers ${ackPeers}, ${(writes / seconds).toFixed(0)}/s, tracing ${traced ? 'on' : 'off'}, load average ${load}\n\n`);
  if (traced) process.stdout.write('| Hop | p50 | p99 | traced |\n|---|---:|---:|---:|\n');
  for (const step of traced ? steps : []) {
    const samples = keys.map(step.ms).filter((v): v is number => v !== undefined);
    const sorted = sortSamples(samples);
    process.stdout.write(`| ${step.label} | ${ms(percentile(sorted, 50))} | ${ms(percentile(sorted, 99))} | ${samples.length} |\n`);
  }
  process.stdout.write('\nPer write, net of the same process at rest (CPU from /proc ticks; context switches summed over threads):\n\n');
  process.stdout.write('| Process | CPU ms / write | CPU ms by thread / write | voluntary switches / write | involuntary / write | threads | voluntary by thread / write |\n|---|---:|---|---:|---:|---:|---|\n');
  const total = { cpuMs: 0, voluntary: 0, involuntary: 0 };
  for (const [name, c] of loaded) {
    const r = rest.get(name)!;
    const scale = seconds / restSeconds;
    const per = (value: number, atRest: number) => (value - atRest * scale) / writes;
    const row = { cpuMs: per(c.cpuMs, r.cpuMs), voluntary: per(c.voluntary, r.voluntary), involuntary: per(c.involuntary, r.involuntary) };
    total.cpuMs += row.cpuMs;
    total.voluntary += row.voluntary;
    total.involuntary += row.involuntary;
    const byThread = (now: ReadonlyMap<string, number>, atRest: ReadonlyMap<string, number>, least: number, digits: number) =>
      [...now]
        .map(([thread, n]) => [thread, per(n, atRest.get(thread) ?? 0)] as const)
        .filter(([, n]) => n >= least)
        .sort((x, y) => y[1] - x[1])
        .map(([thread, n]) => `${thread} ${n.toFixed(digits)}`)
        .join(', ');
    const threads = byThread(c.byThread, r.byThread, 0.5, 1);
    const cpuThreads = byThread(c.cpuByThread, r.cpuByThread, 0.05, 2);
    process.stdout.write(`| ${name} | ${row.cpuMs.toFixed(2)} | ${cpuThreads} | ${row.voluntary.toFixed(1)} | ${row.involuntary.toFixed(1)} | ${c.threads} | ${threads} |\n`);
  }
  process.stdout.write(`| all | ${total.cpuMs.toFixed(2)} | | ${total.voluntary.toFixed(1)} | ${total.involuntary.toFixed(1)} | | |\n`);
}

const scratch = mkdtempSync(join(dataParent, 'correio-trace-'));
const traceDir = join(scratch, 'trace');
// Inherited by every process of the topology: each appends its hops to <traceDir>/trace-<pid>.log.
if (traced) process.env.CORREIO_TRACE_WRITES = traceDir;
try {
  const topology = await startTopology({ servers: SERVERS, ackPeers, dataRoot: scratch, serverFlags: [], ...(profileDir ? { profileDir: resolve(profileDir) } : {}) });
  try {
    await run(topology, traceDir);
  } finally {
    await topology.stop();
  }
} finally {
  await stopAll();
  if (keepTrace) process.stderr.write(`trace files kept in ${traceDir}\n`);
  else rmSync(scratch, { recursive: true, force: true });
}
