// The TypeScript side of the Go task-queue interop tests (peers/go/tasks/interop_test.go), run with
// tsx from the repository root (.mts: peers/go/package.json makes .ts files CommonJS, which has no
// top-level await):
//
//   node --import tsx --conditions=@correio/source peers/go/tasks/testdata/ts_task_peer.mts produce --broker B --queue Q
//     enqueues add, echo and refuse jobs with @correio/tasks, waits for each, and prints one JSON
//     line of what came back ({sum, echo, refused}); a Go worker runs them.
//   ... ts_task_peer.mts work --broker B --queue Q
//     runs a @correio/tasks worker (shout, reject) on the queue, prints "ready", and stops when its
//     stdin ends; a Go client enqueues the jobs.
import { parseArgs } from 'node:util';
import { PermanentJobError, TaskClient, TaskWorker } from '@correio/tasks';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { broker: { type: 'string' }, queue: { type: 'string' } },
});
const [mode] = positionals;
const { broker, queue } = values;
if (!broker || !queue || (mode !== 'produce' && mode !== 'work')) {
  console.error('usage: ts_task_peer.mts produce|work --broker ENDPOINT --queue QUEUE');
  process.exit(2);
}

/** What the Go worker is sent to echo: values that must come back exactly. */
const echoArgs = { text: 'olá, 世界', big: Number.MAX_SAFE_INTEGER, negative: -Number.MAX_SAFE_INTEGER, list: [1, 'two', null, true, false], nested: { empty: {}, none: [] } };

async function produce(): Promise<void> {
  const client = new TaskClient({ broker: broker!, timeoutMs: 15_000 });
  try {
    const sum = await client.enqueue(queue!, 'add', { a: 2, b: 40 }, { id: `ts-sum-${queue}` });
    const echo = await client.enqueue(queue!, 'echo', echoArgs);
    const refused = await client.enqueue(queue!, 'refuse', { to: 'nobody' }, { maxAttempts: 5 });
    const done = await Promise.all([sum, echo, refused].map(({ job }) => client.wait(job.id, { timeoutMs: 15_000 })));
    const [sumJob, echoJob, refusedJob] = done;
    process.stdout.write(
      `${JSON.stringify({
        sum: { state: sumJob!.state, result: sumJob!.result, worker: sumJob!.worker },
        echo: { state: echoJob!.state, result: echoJob!.result },
        refused: { state: refusedJob!.state, attempt: refusedJob!.attempt, error: refusedJob!.error },
      })}\n`,
    );
  } finally {
    await client.close();
  }
}

async function work(): Promise<void> {
  const worker = new TaskWorker({
    broker: broker!,
    queues: [queue!],
    pollMs: 2_000,
    handlers: {
      shout: ({ text }: { text: string }, ctx) => {
        ctx.progress({ shouting: true });
        return { text: text.toUpperCase(), by: 'ts', attempt: ctx.attempt };
      },
      reject: () => {
        throw new PermanentJobError('no such address');
      },
    },
  }).start();
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => {
    process.stdin.on('end', resolve);
    process.stdin.on('error', () => resolve());
    process.stdin.resume();
  });
  await worker.stop({ graceMs: 1_000 });
}

try {
  await (mode === 'produce' ? produce() : work());
  process.exit(0);
} catch (error) {
  console.error(`ts_task_peer ${mode}: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
}
