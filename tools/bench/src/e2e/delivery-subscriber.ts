// Delivery side of the end-to-end benchmark: subscribes to one channel's topic on the proxy and,
// for every `chat.publication`, records its op id once and its delivery latency (receipt time
// minus the send time the publisher wrote into the text; both read the same machine's clock).
// Prints `subscribed`, then on SIGTERM one JSON line and writes the delivered op ids to --file.
import { writeFileSync } from 'node:fs';
import { Subscriber } from '@correio/transport';
import { percentile, sortSamples } from '../stats.js';
import { arg } from '../peers/args.js';

const channel = arg('channel');
const file = arg('file');
const subscriber = new Subscriber({ topics: [`chan/${channel}/`], receiveHighWaterMark: 0 });
subscriber.connect(arg('proxy-sub'));
const delivered = new Set<string>();
const latenciesUs: number[] = [];
let duplicates = 0;
let gaps = 0;
subscriber.events.on('gap', (gap) => (gaps += gap.missed));

function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

process.once('SIGTERM', () => {
  writeFileSync(file, JSON.stringify([...delivered]));
  const sorted = sortSamples(latenciesUs);
  process.stdout.write(`${JSON.stringify({ delivered: delivered.size, duplicates, gaps, p50us: percentile(sorted, 50), p99us: percentile(sorted, 99), cpuShare: (cpuSeconds() - cpuAtStart) / ((performance.now() - wallAtStart) / 1_000), rssBytes: process.memoryUsage.rss() })}\n`);
  process.exit(0);
});

const cpuAtStart = cpuSeconds();
const wallAtStart = performance.now();
// The SUB socket's subscription reaches the proxy asynchronously; the orchestrator waits a moment after this line.
process.stdout.write('subscribed\n');
for await (const publication of subscriber) {
  const receivedAt = performance.timeOrigin + performance.now();
  if (publication.envelope.type !== 'chat.publication') continue;
  const { op, text } = publication.envelope.body;
  const id = `${op.origin}:${op.seq}`;
  if (delivered.has(id)) {
    duplicates++;
    continue;
  }
  delivered.add(id);
  const sentAt = Number.parseFloat(text);
  if (Number.isFinite(sentAt)) latenciesUs.push((receivedAt - sentAt) * 1_000);
}
