// Publishes --count messages of --size bytes as fast as the socket takes them; prints its start time.
// --system zmq (PUB to a proxy's XSUB side) | nats.
import { connect } from 'nats';
import * as zmq from 'zeromq';
import { arg, numberArg } from './args.js';

const count = numberArg('count');
const payload = Buffer.alloc(numberArg('size'), 0x61);
const topic = 'bench/';

if (arg('system') === 'nats') {
  const nc = await connect({ servers: arg('url') });
  await new Promise((resolve) => setTimeout(resolve, 300));
  process.stdout.write(`start ${Date.now()}\n`);
  for (let i = 0; i < count; i++) {
    nc.publish(topic, payload);
    // Let the client's buffer drain now and then, as a real publisher under load would.
    if (i % 1000 === 999) await nc.flush();
  }
  await nc.flush();
  process.stdout.write(`sent ${Date.now()}\n`);
  await nc.drain();
} else {
  const pub = new zmq.Publisher({ sendHighWaterMark: 0, linger: 10_000 });
  pub.connect(arg('endpoint'));
  await new Promise((resolve) => setTimeout(resolve, 500));
  process.stdout.write(`start ${Date.now()}\n`);
  for (let i = 0; i < count; i++) await pub.send([topic, payload]);
  process.stdout.write(`sent ${Date.now()}\n`);
  pub.close();
}
