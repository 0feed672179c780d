// Runs one greeter instance: npx tsx --conditions=@correio/source examples/greeter/main.ts
// Start as many as you like; the broker spreads calls over them.
import { createService } from '@correio/service';
import { pino } from 'pino';
import { Greeter } from './greeter.js';

const logger = pino({ level: process.env['CORREIO_LOG_LEVEL'] ?? 'info' });

const service = createService({
  name: 'greeter',
  version: 1,
  handlers: new Greeter(),
  broker: process.env['CORREIO_BROKER'] ?? 'tcp://127.0.0.1:5555',
  proxy: { pub: process.env['CORREIO_PROXY_PUB'] ?? 'tcp://127.0.0.1:5570', sub: process.env['CORREIO_PROXY_SUB'] ?? 'tcp://127.0.0.1:5571' },
  concurrency: 4,
  startTimeout: '10s',
  logger,
  hooks: {
    onConnect: () => logger.info('connected to the broker and the proxy'),
    onServiceUp: (info) => logger.info({ service: info.service, instance: info.instance, actions: info.actions }, 'service up'),
    onServiceDown: (info, reason) => logger.info({ service: info.service, instance: info.instance, reason }, 'service down'),
  },
});

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping: draining in-flight calls');
    void service.stop().then(() => process.exit(0));
  });
}

try {
  await service.start();
  logger.info({ instance: service.identity.instance }, 'greeter ready; Ctrl-C stops it gracefully');
} catch (error) {
  logger.error({ err: error }, 'greeter could not start: are the broker and the proxy running?');
  process.exit(1);
}
