// The hello service in TypeScript: one action, one heartbeat task, and the hooks that watch the
// other languages' hello services come and go. The same service exists in Python and Go
// (examples/hello/python, examples/hello/go); run all three and they greet each other.
//
//   npx tsx --conditions=@correio/source examples/hello/ts/hello.ts --peers hello-py,hello-go
import { parseArgs } from 'node:util';
import { action, createService, on, task, type ActionContext, type EventContext, type ServiceEvent, type TaskContext } from '@correio/service';
import { pino } from 'pino';

const { values } = parseArgs({
  options: {
    broker: { type: 'string', default: process.env['CORREIO_BROKER'] ?? 'tcp://127.0.0.1:5555' },
    'proxy-pub': { type: 'string', default: process.env['CORREIO_PROXY_PUB'] ?? 'tcp://127.0.0.1:5570' },
    'proxy-sub': { type: 'string', default: process.env['CORREIO_PROXY_SUB'] ?? 'tcp://127.0.0.1:5571' },
    peers: { type: 'string', default: '' },
    'heartbeat-ms': { type: 'string', default: '5000' },
  },
});
const logger = pino({ level: process.env['CORREIO_LOG_LEVEL'] ?? 'info' }, pino.destination(2));
const peers = values.peers.split(',').filter(Boolean);

class Hello {
  /** hello-ts.hello { name } → a greeting, and which instance gave it. */
  @action({ params: { type: 'object', properties: { name: { type: 'string', maxLength: 100 } }, required: ['name'] } })
  hello(ctx: ActionContext, { name }: { name: string }) {
    logger.info({ caller: ctx.caller, name }, 'hello called');
    return { greeting: `hello ${name}, from TypeScript`, by: ctx.service.instance };
  }

  /** Tells every hello service, in every language, that this one is alive. */
  @task({ every: Number(values['heartbeat-ms']) })
  heartbeat(ctx: TaskContext) {
    return ctx.broadcast('hello.heartbeat', { instance: ctx.service.instance, lang: 'ts' });
  }

  @on('hello.heartbeat')
  heard(_ctx: EventContext, event: ServiceEvent<{ instance: string; lang: string }>) {
    logger.info({ from: event.sender, lang: event.data.lang }, 'heartbeat heard');
  }
}

const service = createService({
  name: 'hello-ts',
  handlers: new Hello(),
  broker: values.broker,
  proxy: { pub: values['proxy-pub'], sub: values['proxy-sub'] },
  logger,
  hooks: {
    onServiceUp: (info) => logger.info({ service: info.service, instance: info.instance }, 'service up'),
    onServiceDown: (info, reason) => logger.info({ service: info.service, instance: info.instance, reason }, 'service down'),
  },
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void service.stop().then(() => process.exit(0)));

await service.start();
await service.waitFor(peers, { timeout: '60s' });
for (const peer of peers) {
  const reply = await service.call(`${peer}.hello`, { name: 'hello-ts' });
  console.log(JSON.stringify({ peer, reply }));
}
