// Task-queue benchmark (issue #18): no-op jobs per second end to end (enqueue → worker runs →
// result stored) and enqueue-to-start latency p50/p99 at 1, 10 and 100 concurrent producers, for
// Correio's task queue (broker, proxy, ref, 3 chat servers, --task-replicas 2), Celery with
// RabbitMQ and BullMQ with Redis, each started here as child processes, one after the other.
//   npm run bench:tasks [-- --jobs 2000 --producers 1,10,100 --concurrency 32 --peers correio,celery,bullmq
//                          --redis-fsync always|everysec --correio-route direct|broker --warmup 300 --data-root <dir>]
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { Command, Option, parseNonNegativeInt, parsePositiveInt } from '@correio/observability';
import { requireRealDisk } from '../e2e/setup.js';
import { stopAll } from '../processes.js';
import { PEERS, runTaskBench } from './bench.js';
import type { PeerDefinition } from './peer.js';
import { formatReport } from './report.js';

const list = <T>(parse: (item: string) => T) => (value: string) => value.split(',').map((item) => parse(item.trim()));
const peerIds = PEERS.map((peer) => peer.id);

const options = new Command('bench:tasks')
  .description('task queues side by side: no-op jobs/s end to end and enqueue-to-start latency, Correio against Celery + RabbitMQ and BullMQ + Redis')
  .option('--jobs <n>', 'jobs per round (one round per producer count and system)', parsePositiveInt, 2_000)
  .option('--producers <list>', 'concurrent producers of each round', list(parsePositiveInt), [1, 10, 100])
  .option('--concurrency <n>', "each system's worker concurrency (one worker process)", parsePositiveInt, 32)
  .option('--warmup <n>', 'unmeasured jobs per system before its rounds', parseNonNegativeInt, 300)
  .option('--peers <list>', `systems to run, of ${peerIds.join(',')}`, list((id) => {
    if (!peerIds.includes(id as PeerDefinition['id'])) throw new Error(`unknown system ${id}: one of ${peerIds.join(', ')}`);
    return id as PeerDefinition['id'];
  }), peerIds)
  .addOption(new Option('--redis-fsync <mode>', "Redis's appendfsync (BullMQ's store, Celery's result backend)").choices(['always', 'everysec']).default('always'))
  .addOption(new Option('--correio-route <route>', "Correio's producers and worker: straight to the coordinator once connected (revision 1.9), or through the broker only").choices(['direct', 'broker']).default('direct'))
  .option('--profile-dir <dir>', "write CPU profiles of Correio's broker, proxy and servers here (summarise them with tools/bench/src/e2e/profile-summary.ts)")
  .option('--data-root <dir>', "parent of the servers' data directories (a real disk: fsync on tmpfs is free)", tmpdir())
  .parse()
  .opts<{ jobs: number; producers: number[]; concurrency: number; warmup: number; peers: PeerDefinition['id'][]; redisFsync: 'always' | 'everysec'; correioRoute: 'direct' | 'broker'; dataRoot: string; profileDir?: string }>();

const began = performance.now();
const progress = (text: string) => process.stderr.write(`[${((performance.now() - began) / 1000).toFixed(1)} s] ${text}\n`);

try {
  const outcomes = await runTaskBench({ ...options, dataRoot: requireRealDisk(resolve(options.dataRoot)), progress });
  progress('done');
  console.log(formatReport(outcomes, options).join('\n'));
  // A failed round or check fails the command, as does Correio not starting; another system that cannot start here does not.
  if (outcomes.some((outcome) => outcome.problem !== undefined && (outcome.name.startsWith('Correio') || outcome.configuration !== undefined))) process.exitCode = 1;
} finally {
  await stopAll();
}
