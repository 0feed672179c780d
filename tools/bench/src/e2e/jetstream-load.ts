// Publish load against a JetStream stream, shaped like publish-load.ts's Correio load: --clients
// publishers, one `nats` connection per 10 of them, each keeping one `js.publish` in flight with a
// message id (JetStream de-duplicates a retry under it), for --warmup + --duration ms. The payload
// is the body a Correio publication carries ({user, channel, text} in MessagePack, the text being the
// send time and the id), so both systems store the same bytes. Prints one JSON line (LoadResult) and
// writes the latencies measured to --latencies-file.
import { writeFileSync } from 'node:fs';
import { encode } from '@correio/codec';
import { connect } from 'nats';
import { arg, numberArg } from '../peers/args.js';
import { ClosedLoop } from './closed-loop.js';

const servers = arg('servers').split(',');
const clients = numberArg('clients');
const durationMs = numberArg('duration');
const warmupMs = numberArg('warmup', 1_000);
const tag = arg('tag');
const subject = arg('subject');
const channel = arg('channel');
const latenciesFile = arg('latencies-file');
const PUBLISHERS_PER_CONNECTION = 10;
const ATTEMPT_TIMEOUT_MS = 10_000;
const MAX_ATTEMPTS = 20;

const connections = await Promise.all(
  Array.from({ length: Math.ceil(clients / PUBLISHERS_PER_CONNECTION) }, () => connect({ servers, maxReconnectAttempts: -1 })),
);
const streams = connections.map((nc) => nc.jetstream({ timeout: ATTEMPT_TIMEOUT_MS }));
const latenciesUs: number[] = [];
const errors: Record<string, number> = {};
const firstErrors: Record<string, string> = {};
let retries = 0;
let failed = 0;
const loop = new ClosedLoop();
let payloadBytes = 0;

const cpuSeconds = () => { const { user, system } = process.cpuUsage(); return (user + system) / 1e6; };

async function publishOnce(publisher: number, id: string): Promise<boolean> {
  const js = streams[Math.floor(publisher / PUBLISHERS_PER_CONNECTION)]!;
  const payload = encode({ user: 'bench', channel, text: `${(performance.timeOrigin + performance.now()).toFixed(3)} ${id}` });
  payloadBytes = payload.length;
  const started = performance.now();
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    try {
      await js.publish(subject, payload, { msgID: id });
      if (loop.measuring) latenciesUs.push((performance.now() - started) * 1_000);
      return true;
    } catch (error) {
      const code = String((error as { code?: unknown }).code ?? (error as Error).name);
      errors[code] = (errors[code] ?? 0) + 1;
      firstErrors[code] ??= (error as Error).message;
      retries++;
      await new Promise((resolve) => setTimeout(resolve, Math.min(200, 5 * attempt)));
    }
  }
  failed++;
  return false;
}

const cpuAtStart = cpuSeconds();
const wallAtStart = performance.now();
const { acks, total, seconds } = await loop.run({ clients, warmupMs, durationMs, drainMs: ATTEMPT_TIMEOUT_MS * 2, write: (c, i) => publishOnce(c, `${tag}-${c}-${i}`) });
await Promise.all(connections.map((nc) => nc.close()));
writeFileSync(latenciesFile, JSON.stringify(latenciesUs));
process.stdout.write(
  `${JSON.stringify({ clients, acks, perSecond: acks / seconds, total, retries, failed, errors, firstErrors, payloadBytes, cpuShare: (cpuSeconds() - cpuAtStart) / ((performance.now() - wallAtStart) / 1_000), rssBytes: process.memoryUsage.rss() })}\n`,
);
process.exit(0);
