// The TypeScript side of the Python task-queue interop test (test_tasks.py): a @correio/tasks
// worker on one queue, and a producer driven by JSON lines on stdin.
//
//   node --import tsx --conditions=@correio/source peers/python/tests/ts_task_peer.mts --broker B --queue Q
//
// Prints {"ready": worker id} once its worker runs. Each stdin line {"queue", "task", "args", "id"}
// is enqueued and its finished job printed as {"job": …} (or {"error": {code, message}}). When stdin
// ends it stops its worker and exits.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { PermanentJobError, TaskClient, TaskWorker } from '@correio/tasks';

const { values } = parseArgs({ options: { broker: { type: 'string' }, queue: { type: 'string' } } });
if (!values.broker || !values.queue) {
  console.error('usage: ts_task_peer.mts --broker ENDPOINT --queue QUEUE');
  process.exit(2);
}

const worker = new TaskWorker({
  broker: values.broker,
  queues: [values.queue],
  pollMs: 2_000,
  handlers: {
    'ts.concat': ({ parts }: { parts: string[] }, ctx) => ({ joined: parts.join(' '), by: 'typescript', attempt: ctx.attempt }),
    'ts.refuse': () => {
      throw new PermanentJobError('TypeScript refuses this job');
    },
  },
}).start();
const client = new TaskClient({ broker: values.broker, timeoutMs: 20_000 });
const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
print({ ready: worker.id });

const pending: Promise<void>[] = [];
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === '') continue;
  pending.push(
    (async () => {
      try {
        const { queue, task, args, id } = JSON.parse(line) as { queue: string; task: string; args?: unknown; id?: string };
        const { job } = await client.enqueue(queue, task, args, id === undefined ? {} : { id });
        print({ job: await client.wait(job.id, { timeoutMs: 15_000 }) });
      } catch (error) {
        print({ error: { code: (error as { code?: string }).code ?? 'ERROR', message: (error as Error).message } });
      }
    })(),
  );
}
await Promise.all(pending);
await worker.stop({ graceMs: 1_000 });
await client.close();
