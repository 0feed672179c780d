// The Correio side of the task-queue benchmark, as a child process: `--role producer` enqueues
// no-op jobs with @correio/tasks TaskClients (one per producer, as separate producer programs
// would have), `--role worker` runs them with one TaskWorker. The access token comes in
// CORREIO_BENCH_TOKEN (not on the command line, where `ps` shows it).
import { Command, Option, parsePositiveInt } from '@correio/observability';
import { TaskClient, TaskWorker } from '@correio/tasks';
import { nowMicros, produceRound, report, serveCommands } from './wire.js';

const options = new Command('correio-child')
  .addOption(new Option('--role <role>').choices(['producer', 'worker']).makeOptionMandatory())
  .requiredOption('--broker <endpoint>')
  .requiredOption('--queue <name>')
  .option('--concurrency <n>', 'the worker\'s concurrency', parsePositiveInt, 32)
  .addOption(new Option('--route <route>', 'straight to the coordinator once connected, or through the broker only').choices(['direct', 'broker']).default('direct'))
  .parse()
  .opts<{ role: 'producer' | 'worker'; broker: string; queue: string; concurrency: number; route: 'direct' | 'broker' }>();
const direct = options.route === 'direct';

const token = process.env['CORREIO_BENCH_TOKEN'];
const auth = () => token;
/** How often the worker looks at its count of settled jobs: TaskWorker counts them but has no per-job hook. */
const COUNT_CHECK_MS = 1;

async function producer(): Promise<void> {
  const clients: TaskClient[] = [];
  /** The first `count` clients, the missing ones made and connected (before the clock starts). */
  const ensureClients = async (count: number) => {
    const made = Array.from({ length: Math.max(0, count - clients.length) }, () => new TaskClient({ broker: options.broker, auth, direct, timeoutMs: 30_000 }));
    clients.push(...made);
    await Promise.all(made.map((client) => client.list({ queue: options.queue, limit: 1 })));
    return clients.slice(0, count);
  };
  await ensureClients(1);
  report({ type: 'ready' });
  await serveCommands(async (command) => {
    if (command.type !== 'produce') throw new Error(`a producer does not take ${command.type}`);
    const ready = await ensureClients(command.producers);
    await produceRound(command.jobs, ready.map((client) => (payload) => client.enqueue(options.queue, 'noop', payload)));
  });
  await Promise.all(clients.map((made) => made.close()));
}

async function worker(): Promise<void> {
  let latencies: number[] = [];
  const worker = new TaskWorker({
    broker: options.broker,
    auth,
    direct,
    queues: [options.queue],
    concurrency: options.concurrency,
    handlers: { noop: ({ t }: { t: number }) => void latencies.push(nowMicros() - t) },
  }).start();
  report({ type: 'ready' });
  await serveCommands(async (command) => {
    if (command.type !== 'expect') throw new Error(`a worker does not take ${command.type}`);
    const base = worker.stats;
    latencies = [];
    report({ type: 'expecting' });
    await new Promise<void>((resolve) => {
      // Ends when the jobs are done, or when the benchmark gives up on them and stops this process.
      const timer = setInterval(() => {
        const { succeeded, failed } = worker.stats;
        if (succeeded + failed - base.succeeded - base.failed < command.jobs) return;
        clearInterval(timer);
        report({ type: 'completed', succeeded: succeeded - base.succeeded, failed: failed - base.failed, lastDoneUs: nowMicros(), latenciesUs: latencies });
        resolve();
      }, COUNT_CHECK_MS);
    });
  });
  await worker.stop({ graceMs: 1_000 });
}

await (options.role === 'producer' ? producer() : worker());
