// MDP/0.2 echo worker on raw DEALER sockets: the FINAL carries the request body back unchanged.
// One connection serves one request at a time (RFC 18); --connections opens several (FRAMES.md §1.7).
import * as zmq from 'zeromq';
import { arg, numberArg } from './args.js';

const endpoint = arg('endpoint');
const service = arg('service', 'echo');
const connections = numberArg('connections', 1);
const HEADER = Buffer.from('MDPW02');
const READY = Buffer.from([1]);
const FINAL = Buffer.from([4]);
const HEARTBEAT = Buffer.from([5]);
const REQUEST = 2;

async function serve(): Promise<void> {
  const socket = new zmq.Dealer({ sendHighWaterMark: 0, receiveHighWaterMark: 0 });
  socket.connect(endpoint);
  await socket.send([HEADER, READY, service]);
  setInterval(() => void socket.send([HEADER, HEARTBEAT]).catch(() => undefined), 2_500);
  for (;;) {
    const frames = await socket.receive();
    if (frames[1]![0] !== REQUEST) continue;
    await socket.send([HEADER, FINAL, frames[2]!, frames[3]!, frames[4]!]);
  }
}

process.stdout.write('ready\n');
await Promise.all(Array.from({ length: connections }, serve));
