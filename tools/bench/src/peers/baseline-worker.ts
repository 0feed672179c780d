// Echo worker for the baseline broker: READY (an empty client frame), then [client, body] → [client, body].
import * as zmq from 'zeromq';
import { arg, numberArg } from './args.js';

const endpoint = arg('endpoint');
const connections = numberArg('connections', 1);

async function serve(): Promise<void> {
  const socket = new zmq.Dealer({ sendHighWaterMark: 0, receiveHighWaterMark: 0 });
  socket.connect(endpoint);
  await socket.send([Buffer.alloc(0), Buffer.alloc(0)]);
  for (;;) {
    const [client, body] = await socket.receive();
    await socket.send([client!, body!]);
  }
}

process.stdout.write('ready\n');
await Promise.all(Array.from({ length: connections }, serve));
