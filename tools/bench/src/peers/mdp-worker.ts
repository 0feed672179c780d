// MDP/0.2 echo worker on raw DEALER sockets: the FINAL carries the request body back unchanged.
// One connection serves one request at a time (RFC 18); --connections opens several (FRAMES.md §1.7).
// --framing packed (default; FRAMES.md §1.12) or classic.
import * as zmq from 'zeromq';
import { arg, numberArg } from './args.js';

const endpoint = arg('endpoint');
const service = arg('service', 'echo');
const connections = numberArg('connections', 1);
const packed = arg('framing', 'packed') === 'packed';
const HEADER = Buffer.from('MDPW02');
const READY = Buffer.from([1]);
const FINAL = 4;
const HEARTBEAT = Buffer.from([5]);
const REQUEST = 2;

async function serve(): Promise<void> {
  const socket = new zmq.Dealer({ sendHighWaterMark: 0, receiveHighWaterMark: 0 });
  socket.connect(endpoint);
  await socket.send(packed ? [Buffer.concat([HEADER, READY, Buffer.from(service)])] : [HEADER, READY, service]);
  const heartbeat = packed ? [Buffer.concat([HEADER, HEARTBEAT])] : [HEADER, HEARTBEAT];
  setInterval(() => void socket.send(heartbeat).catch(() => undefined), 2_500);
  for (;;) {
    const frames = await socket.receive();
    if (packed) {
      // ["MDPW02" 0x02 client, body] → ["MDPW02" 0x04 client, body]: only the command byte changes.
      const head = frames[0]!;
      if (head.length <= 7 || head[6] !== REQUEST) continue;
      head[6] = FINAL;
      await socket.send([head, frames[1]!]);
    } else {
      if (frames[1]![0] !== REQUEST) continue;
      await socket.send([HEADER, Buffer.from([FINAL]), frames[2]!, frames[3]!, frames[4]!]);
    }
  }
}

process.stdout.write('ready\n');
await Promise.all(Array.from({ length: connections }, serve));
