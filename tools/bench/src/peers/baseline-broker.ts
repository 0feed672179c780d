// The baseline: a minimal load-balancing broker as in the ZeroMQ Guide (ROUTER for clients,
// ROUTER for workers, least-recently-used ready workers), with no heartbeats, no service names,
// no limits and no metrics. What any MDP broker costs above it is the price of its features.
import * as zmq from 'zeromq';
import { arg } from './args.js';

const frontend = new zmq.Router({ sendTimeout: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
const backend = new zmq.Router({ sendTimeout: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
await frontend.bind(arg('frontend'));
await backend.bind(arg('backend'));
const ready: Buffer[] = [];
const queued: Buffer[][] = [];

async function clients(): Promise<void> {
  for (;;) {
    const [client, body] = await frontend.receive();
    const worker = ready.shift();
    if (worker) void backend.send([worker, client!, body!]);
    else queued.push([client!, body!]);
  }
}

async function workers(): Promise<void> {
  for (;;) {
    const [worker, client, body] = await backend.receive();
    if (client!.length > 0 && body !== undefined) void frontend.send([client!, body]);
    const next = queued.shift();
    if (next) void backend.send([worker!, next[0]!, next[1]!]);
    else ready.push(worker!);
  }
}

process.stdout.write(`ready frontend=${frontend.lastEndpoint} backend=${backend.lastEndpoint}\n`);
await Promise.all([clients(), workers()]);
