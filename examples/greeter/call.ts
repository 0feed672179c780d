// Calls the greeter: npx tsx --conditions=@correio/source examples/greeter/call.ts ana
import { CorreioError } from '@correio/codec';
import { ServiceClient } from '@correio/service';
import type { GreeterContract } from './greeter.js';

const client = new ServiceClient<GreeterContract>({
  broker: process.env['CORREIO_BROKER'] ?? 'tcp://127.0.0.1:5555',
  timeout: '3s',
  retries: 2,
});

try {
  const reply = await client.call('greeter.hello', { name: process.argv[2] ?? 'world' });
  console.log(`${reply.greeting} (from ${reply.by})`);
  console.log('stats:', await client.call('greeter.stats'));
  // A typed error, as it came over the wire:
  await client.call('greeter.hello', { name: '' }).catch((error: CorreioError) => {
    console.log(`invalid params → ${error.code}: ${error.message} (path ${String(error.data?.['path'])})`);
  });
} catch (error) {
  const failure = CorreioError.from(error);
  console.error(`call failed: ${failure.code}: ${failure.message}${failure.retryable ? ' (retryable)' : ''}`);
  process.exitCode = 1;
} finally {
  await client.close();
}
