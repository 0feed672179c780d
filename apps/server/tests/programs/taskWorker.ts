// A task worker as its own process, for the chaos tests: SIGKILL and SIGSTOP reach it alone.
// `count` appends "<job id> <attempt>" to --effects (the side effect the test counts, at least once
// per job), after an optional --work-ms; `doomed` always fails. Prints "worker ready <id>" once
// its first lease request is on its way.
import { appendFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { TaskWorker } from '@correio/tasks';

const { values } = parseArgs({
  options: {
    broker: { type: 'string' },
    id: { type: 'string' },
    queue: { type: 'string', default: 'soak' },
    effects: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
    'work-ms': { type: 'string', default: '0' },
  },
});
if (!values.broker || !values.id || !values.effects) throw new Error('usage: taskWorker --broker <endpoint> --id <worker id> --effects <file> [--queue q] [--concurrency n] [--work-ms ms]');
const effects = values.effects;
const workMs = Number(values['work-ms']);

const worker = new TaskWorker({
  broker: values.broker,
  id: values.id,
  queues: [values.queue],
  concurrency: Number(values.concurrency),
  pollMs: 2_000,
  handlers: {
    count: async (_args: unknown, ctx) => {
      if (workMs > 0) await new Promise((resolve) => setTimeout(resolve, workMs));
      appendFileSync(effects, `${ctx.id} ${ctx.attempt}\n`);
      return ctx.attempt;
    },
    doomed: () => {
      throw new Error('designed to fail');
    },
  },
}).start();
console.log(`worker ready ${worker.id}`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void worker.stop({ graceMs: 2_000 }).then(() => process.exit(0));
  });
}
