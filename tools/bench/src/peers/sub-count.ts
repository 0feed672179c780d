// Counts messages until --count arrive (or --idle ms pass without one); prints the time of the last.
import { connect } from 'nats';
import * as zmq from 'zeromq';
import { arg, numberArg } from './args.js';

const count = numberArg('count');
const idleMs = numberArg('idle', 5_000);
let received = 0;
let last = 0;

function finish(): never {
  process.stdout.write(`${JSON.stringify({ received, last })}\n`);
  process.exit(0);
}

if (arg('system') === 'nats') {
  const nc = await connect({ servers: arg('url') });
  const subscription = nc.subscribe('bench/');
  await nc.flush();
  process.stdout.write('subscribed\n');
  let idle = setTimeout(finish, idleMs * 4);
  for await (const _message of subscription) {
    received++;
    last = Date.now();
    if (received >= count) finish();
    if (received % 1000 === 0) {
      clearTimeout(idle);
      idle = setTimeout(finish, idleMs);
    }
  }
} else {
  const sub = new zmq.Subscriber({ receiveHighWaterMark: 0, receiveTimeout: idleMs * 4 });
  sub.connect(arg('endpoint'));
  sub.subscribe('bench/');
  process.stdout.write('subscribed\n');
  for (;;) {
    try {
      await sub.receive();
    } catch {
      finish();
    }
    received++;
    last = Date.now();
    if (received === 1) sub.receiveTimeout = idleMs;
    if (received >= count) finish();
  }
}
