// What one hop between two processes costs when it is the only message in flight: the case of a
// single client, where every message wakes its receiver. An echo peer in a child process, a client
// here sending one 140-byte message at a time and waiting for the echo, over loopback TCP:
//   - node:net, 4-byte length prefix (one thread per process touches the socket);
//   - zeromq.js DEALER → ROUTER (libzmq's I/O thread sits between each socket and its main thread).
// Round trips per second, round-trip p50 / p99, and CPU per round trip by process and thread
// (/proc/<pid>/task/*/stat; 10 ms ticks, so thousands of round trips are measured).
//   npm run bench:hop [-- --round-trips 5000 --warmup 500 --bytes 140]
import { readFileSync } from 'node:fs';
import { numberArg } from '../peers/args.js';
import { measure, TRANSPORTS } from './roundTrip.js';

function describeCpu(byThread: Map<string, number>): string {
  const total = [...byThread.values()].reduce((sum, ms) => sum + ms, 0);
  const threads = [...byThread]
    .filter(([, ms]) => ms >= 0.001)
    .sort((a, b) => b[1] - a[1])
    .map(([thread, ms]) => `${thread} ${(ms * 1000).toFixed(0)}`)
    .join(', ');
  return `${(total * 1000).toFixed(0)} (${threads})`;
}

const roundTrips = numberArg('round-trips', 5000);
const warmup = numberArg('warmup', 500);
const bytes = numberArg('bytes', 140);
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
process.stdout.write(`One ${bytes}-byte message in flight, ${roundTrips} round trips each, load average ${load}\n\n`);
process.stdout.write('| Transport | Round trips/s | p50 | p99 | client CPU µs / round trip (by thread) | echo CPU µs / round trip (by thread) |\n|---|---:|---:|---:|---|---|\n');
// Twice each, alternating: this machine's speed moves from minute to minute.
for (const transport of [...TRANSPORTS, ...TRANSPORTS]) {
  const row = await measure(transport, roundTrips, warmup, bytes);
  process.stdout.write(`| ${row.transport} | ${row.perSecond.toFixed(0)} | ${(row.p50 * 1000).toFixed(0)} µs | ${(row.p99 * 1000).toFixed(0)} µs | ${describeCpu(row.cpu.client)} | ${describeCpu(row.cpu.echo)} |\n`);
}
