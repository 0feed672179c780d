// The TypeScript service driver of tools/interop/SERVICE-DRIVER.md: a @correio/service microservice
// driven by JSON lines, the same program the Python and Go peers provide, so a test treats the three
// languages alike.
//
//   node --import tsx --conditions=@correio/source tools/interop/src/serviceDriver.ts \
//     --name ts --broker tcp://… --proxy-pub tcp://… --proxy-sub tcp://…
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { CorreioError, isErrorCode, ValidationError } from '@correio/codec';
import { createLogger } from '@correio/observability';
import { createService, defineService, type ActionContext, type EventContext, type ServiceEvent, type TaskContext } from '@correio/service';
import { callLatencies } from './callLatencies.js';

const { values } = parseArgs({
  options: {
    name: { type: 'string' },
    instance: { type: 'string' },
    broker: { type: 'string' },
    'proxy-pub': { type: 'string' },
    'proxy-sub': { type: 'string' },
    concurrency: { type: 'string' },
    'announce-interval': { type: 'string' },
  },
});
const { name, broker } = values;
const proxyPub = values['proxy-pub'];
const proxySub = values['proxy-sub'];
if (!name || !broker || !proxyPub || !proxySub) {
  console.error('usage: serviceDriver.ts --name NAME --broker ENDPOINT --proxy-pub ENDPOINT --proxy-sub ENDPOINT [--instance ID] [--concurrency N] [--announce-interval MS]');
  process.exit(2);
}

const print = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
/** The codes SERVICE-DRIVER.md marks retryable when `fail` raises them. */
const RETRYABLE = new Set(['UNAVAILABLE', 'TIMEOUT', 'OVERLOADED']);

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });

const handlers = defineService({
  actions: {
    echo: { handler: (_ctx: ActionContext, params: unknown) => params },
    add: {
      params: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] },
      handler: (ctx: ActionContext, { a, b }: { a: number; b: number }) => ({ sum: a + b, by: ctx.service.instance }),
    },
    fail: {
      params: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, required: ['code', 'message'] },
      handler: (_ctx: ActionContext, { code, message }: { code: string; message: string }): never => {
        if (!isErrorCode(code)) throw new ValidationError(`params.code: ${code} is not a protocol error code`, { data: { path: '/body/params/code' } });
        throw new CorreioError(code, message, { retryable: RETRYABLE.has(code) });
      },
    },
    slow: {
      params: { type: 'object', properties: { ms: { type: 'number', minimum: 0, maximum: 600_000 } }, required: ['ms'] },
      handler: async (ctx: ActionContext, { ms }: { ms: number }) => {
        print({ op: 'slow', ms, by: ctx.service.instance });
        await sleep(ms, ctx.signal);
        return { slept: ms, by: ctx.service.instance };
      },
    },
    relay: {
      params: { type: 'object', properties: { action: { type: 'string' } }, required: ['action'] },
      handler: (ctx: ActionContext, { action, params }: { action: string; params?: unknown }) => ctx.call(action, params),
    },
  },
  events: {
    'mixed.ping': {
      handler: (_ctx: EventContext, event: ServiceEvent) =>
        print({ op: 'event', event: event.name, delivery: event.delivery, sender: event.sender, ...(event.data === undefined ? {} : { data: event.data }) }),
    },
  },
  tasks: {
    heartbeat: { every: '1s', handler: (ctx: TaskContext) => ctx.broadcast('mixed.heartbeat', { instance: ctx.service.instance }) },
  },
});

const service = createService({
  name,
  ...(values.instance ? { instance: values.instance } : {}),
  broker,
  proxy: { pub: proxyPub, sub: proxySub },
  handlers,
  ...(values.concurrency ? { concurrency: Number(values.concurrency) } : {}),
  ...(values['announce-interval'] ? { discovery: { interval: Number(values['announce-interval']) } } : {}),
  logger: createLogger(`driver-${name}`),
  hooks: {
    onServiceUp: (info) => print({ op: 'up', service: info.service, instance: info.instance }),
    onServiceDown: (info, reason) => print({ op: 'down', service: info.service, instance: info.instance, reason }),
  },
});

let stopping: Promise<void> | undefined;
function stop(): Promise<void> {
  stopping ??= service.stop().then(() => {
    print({ op: 'stopped' });
    process.exit(0);
  });
  return stopping;
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());

await service.start();
print({ op: 'ready', service: name, instance: service.identity.instance });

interface Command {
  readonly op?: unknown;
  readonly id?: unknown;
  readonly action?: unknown;
  readonly params?: unknown;
  readonly event?: unknown;
  readonly data?: unknown;
  readonly timeout_ms?: unknown;
  readonly retries?: unknown;
  readonly count?: unknown;
  readonly inflight?: unknown;
}

async function run(command: Command): Promise<void> {
  const id = command.id;
  switch (command.op) {
    case 'call':
      try {
        const options = { ...(typeof command.timeout_ms === 'number' ? { timeout: command.timeout_ms } : {}), ...(typeof command.retries === 'number' ? { retries: command.retries } : {}) };
        const result = await service.call(String(command.action), command.params, options);
        print({ op: 'result', id, ...(result === undefined ? {} : { result }) });
      } catch (thrown) {
        const error = CorreioError.from(thrown);
        print({ op: 'error', id, code: error.code, message: error.message, retryable: error.retryable });
      }
      return;
    case 'emit': {
      const report = await service.emit(String(command.event), command.data);
      print({ op: 'emitted', id, delivered: report.delivered, failed: report.failed.map((failure) => failure.group) });
      return;
    }
    case 'broadcast':
      await service.broadcast(String(command.event), command.data);
      return;
    case 'bench': {
      const stats = await callLatencies((params) => service.call(String(command.action), params), command.params, Number(command.count), Number(command.inflight));
      print({ op: 'bench', id, ...stats });
      return;
    }
    case 'stop':
      await stop();
      return;
    default:
      throw new ValidationError(`unknown command op ${JSON.stringify(command.op)}`);
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === '') return;
  let command: Command;
  try {
    command = JSON.parse(line) as Command;
  } catch {
    console.error(`serviceDriver: not a JSON command: ${line.slice(0, 200)}`);
    return;
  }
  run(command).catch((error: unknown) => console.error(`serviceDriver: ${command.op} failed: ${String(error)}`));
});
lines.on('close', () => void stop());
