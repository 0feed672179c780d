// The BullMQ side of the task-queue benchmark, as a child process: `--role producer` adds no-op
// jobs with BullMQ Queues (one per producer, each its own Redis connection), `--role worker` runs
// them with one BullMQ Worker. A job counts as done at the Worker's `completed` event, which
// comes after its result is written to Redis (moveToCompleted).
import { createRequire } from 'node:module';
import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import { Command, Option, parsePositiveInt } from '@correio/observability';
import { nowMicros, produceRound, report, serveCommands } from './wire.js';

const options = new Command('bullmq-child')
  .addOption(new Option('--role <role>').choices(['producer', 'worker']).makeOptionMandatory())
  .requiredOption('--port <port>', 'the Redis port on 127.0.0.1', parsePositiveInt)
  .requiredOption('--queue <name>')
  .option('--concurrency <n>', "the worker's concurrency", parsePositiveInt, 32)
  .parse()
  .opts<{ role: 'producer' | 'worker'; port: number; queue: string; concurrency: number }>();

const connection: ConnectionOptions = { host: '127.0.0.1', port: options.port };
const version = (createRequire(import.meta.url)('bullmq/package.json') as { version: string }).version;

async function producer(): Promise<void> {
  const queues: Queue[] = [];
  /** The first `count` queues, the missing ones made and connected (before the clock starts). */
  const ensureQueues = async (count: number) => {
    const made = Array.from({ length: Math.max(0, count - queues.length) }, () => new Queue(options.queue, { connection }));
    queues.push(...made);
    await Promise.all(made.map((queue) => queue.waitUntilReady()));
    return queues.slice(0, count);
  };
  await ensureQueues(1);
  report({ type: 'ready', version });
  await serveCommands(async (command) => {
    if (command.type !== 'produce') throw new Error(`a producer does not take ${command.type}`);
    const ready = await ensureQueues(command.producers);
    await produceRound(command.jobs, ready.map((queue) => (payload) => queue.add('noop', payload)));
  });
  await Promise.all(queues.map((made) => made.close()));
}

async function worker(): Promise<void> {
  let latencies: number[] = [];
  let succeeded = 0;
  let failed = 0;
  let onDone: (() => void) | undefined;
  const worker = new Worker(options.queue, async (job) => void latencies.push(nowMicros() - (job.data as { t: number }).t), { connection, concurrency: options.concurrency });
  worker.on('completed', () => {
    succeeded++;
    onDone?.();
  });
  worker.on('failed', () => {
    failed++;
    onDone?.();
  });
  worker.on('error', (error) => process.stderr.write(`worker error: ${error.message}\n`));
  await worker.waitUntilReady();
  report({ type: 'ready', version });
  await serveCommands(async (command) => {
    if (command.type !== 'expect') throw new Error(`a worker does not take ${command.type}`);
    [succeeded, failed, latencies] = [0, 0, []];
    report({ type: 'expecting' });
    // Ends when the jobs are done, or when the benchmark gives up on them and stops this process.
    await new Promise<void>((resolve) => {
      onDone = () => {
        if (succeeded + failed < command.jobs) return;
        onDone = undefined;
        report({ type: 'completed', succeeded, failed, lastDoneUs: nowMicros(), latenciesUs: latencies });
        resolve();
      };
    });
  });
  await worker.close();
}

await (options.role === 'producer' ? producer() : worker());
