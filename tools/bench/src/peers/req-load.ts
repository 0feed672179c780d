// Request load: keeps --outstanding requests in flight for --duration ms and reports throughput
// and latency percentiles as one JSON line. --system baseline | mdp | nats; for mdp, --framing
// packed (default; FRAMES.md §1.12) or classic.
import { connect } from 'nats';
import * as zmq from 'zeromq';
import { ownCpuSeconds } from '../cpuTime.js';
import { percentile, sortSamples } from '../stats.js';
import { arg, numberArg } from './args.js';

const system = arg('system');
const outstanding = numberArg('outstanding');
const size = numberArg('size');
const durationMs = numberArg('duration', 4_000);
const warmupMs = numberArg('warmup', 1_000);

const latencies: number[] = [];
let completed = 0;
/** Every completion, warm-up included: what the processes' CPU time is divided by. */
let total = 0;
let measuring = false;
let stopping = false;
const body = (seq: number) => {
  const buffer = Buffer.alloc(Math.max(8, size), 0x61);
  buffer.writeDoubleLE(seq, 0);
  return buffer;
};

function record(startedNs: bigint): void {
  total++;
  if (!measuring) return;
  completed++;
  latencies.push(Number(process.hrtime.bigint() - startedNs) / 1_000);
}

async function runZmq(): Promise<void> {
  const socket = new zmq.Dealer({ sendHighWaterMark: 0, receiveHighWaterMark: 0 });
  socket.connect(arg('endpoint'));
  const mdp = system === 'mdp';
  const packed = arg('framing', 'packed') === 'packed';
  const requestHeader = packed ? [Buffer.from('MDPC02\x01echo', 'latin1')] : ['MDPC02', Buffer.from([1]), 'echo'];
  const started = new Map<number, bigint>();
  let seq = 0;
  const send = () => {
    const n = seq++;
    started.set(n, process.hrtime.bigint());
    const payload = body(n);
    return socket.send(mdp ? [...requestHeader, payload] : [payload]);
  };
  await new Promise((resolve) => setTimeout(resolve, 300));
  for (let i = 0; i < outstanding; i++) await send();
  for (;;) {
    const frames = await socket.receive();
    const payload = mdp ? frames[packed ? 1 : 3]! : frames[0]!;
    const n = payload.readDoubleLE(0);
    record(started.get(n)!);
    started.delete(n);
    if (stopping) {
      if (started.size === 0) return;
      continue;
    }
    await send();
  }
}

async function runNats(): Promise<void> {
  const nc = await connect({ servers: arg('url') });
  let seq = 0;
  await Promise.all(
    Array.from({ length: outstanding }, async () => {
      while (!stopping) {
        const startedNs = process.hrtime.bigint();
        await nc.request('echo', body(seq++), { timeout: 10_000 });
        record(startedNs);
      }
    }),
  );
  await nc.close();
}

const run = system === 'nats' ? runNats() : runZmq();
await new Promise((resolve) => setTimeout(resolve, warmupMs));
measuring = true;
const from = performance.now();
await new Promise((resolve) => setTimeout(resolve, durationMs));
measuring = false;
const seconds = (performance.now() - from) / 1_000;
stopping = true;
await Promise.race([run, new Promise((resolve) => setTimeout(resolve, 2_000))]);
const sorted = sortSamples(latencies);
process.stdout.write(`${JSON.stringify({ system, outstanding, size, requests: completed, perSecond: completed / seconds, p50us: percentile(sorted, 50), p99us: percentile(sorted, 99), total, cpuMs: ownCpuSeconds() * 1000 })}\n`);
process.exit(0);
