// The transport benchmark: `npm run bench -w @correio/transport` (or `npx nx run @correio/transport:bench`).
// Prints one table per scenario; raw zeromq.js runs in the same process and the same run as the baseline.
// Options: --quick (a fifth of the messages), --repeats=N (median of N interleaved runs, default 5).
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as zmq from 'zeromq';
import { compare } from './measure.js';
import { oneWay } from './oneWay.js';
import { encodedSize, SIZES } from './payloads.js';
import { pubSub } from './pubSub.js';
import { requestReply } from './requestReply.js';
import { rate, relative, table } from './table.js';

const quick = process.argv.includes('--quick');
const scale = quick ? 0.2 : 1;
const count = (n: number): number => Math.max(100, Math.round(n * scale));

async function startBroker(): Promise<{ endpoint: string; stop: () => void }> {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'brokerProcess.ts');
  const child = spawn(process.execPath, ['--conditions=@correio/source', '--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}`)));
  });
  return { endpoint, stop: () => child.kill('SIGTERM') };
}

const repeats = Number(process.argv.find((arg) => arg.startsWith('--repeats='))?.slice('--repeats='.length) ?? 5);
console.log(`Correio transport benchmark — node ${process.version}, libzmq ${zmq.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`);
console.log(`Each figure: median of ${repeats} runs, variants interleaved. Payload: data bytes inside each envelope.\n`);


const oneWayRows: string[][] = [];
for (const size of SIZES) {
  const n = count(size === 64 ? 100_000 : 50_000);
  const result = await compare(await oneWay(size, n), n, repeats);
  oneWayRows.push([
    `${size} B (frame ${encodedSize(size)} B)`,
    rate(result.rawBytes),
    rate(result.rawCodec),
    rate(result.correio),
    relative(result.correio, result.rawCodec),
  ]);
}
console.log('One-way throughput, DEALER → ROUTER over tcp (messages/s)');
console.log(table(['payload', 'raw zmq, bytes', 'raw zmq + codec', 'correio', 'correio vs raw+codec'], oneWayRows));

const broker = await startBroker();
try {
  const rrRows: string[][] = [];
  for (const inFlight of [1, 100]) {
    for (const size of SIZES) {
      const n = count(inFlight === 1 ? 5_000 : 20_000);
      const result = await compare(await requestReply(broker.endpoint, size, inFlight, n), n, repeats);
      rrRows.push([
        `N=${inFlight}, ${size} B`,
        rate(result.raw),
        rate(result.correio),
        inFlight === 1 ? `${(1e6 / result.raw).toFixed(0)} / ${(1e6 / result.correio).toFixed(0)} µs` : '',
        relative(result.correio, result.raw),
      ]);
    }
  }
  console.log('\nRequest/reply through an RFC 18 broker (separate process), client and N worker connections over tcp (round trips/s)');
  console.log(table(['in flight, payload', 'raw zmq + codec', 'correio', 'latency raw / correio', 'correio vs raw'], rrRows));
} finally {
  broker.stop();
}

const psRows: string[][] = [];
for (const size of SIZES) {
  const n = count(size === 64 ? 100_000 : 50_000);
  const result = await compare(await pubSub(size, n, 64), n, repeats);
  psRows.push([
    `${size} B`,
    rate(result.raw),
    rate(result.unbatched),
    rate(result.batched),
    relative(result.unbatched, result.raw),
    `${(result.batched / result.unbatched).toFixed(2)}×`,
  ]);
}
console.log('\nPub/sub over tcp, publisher and subscriber in one process, decode included (publications/s)');
console.log(table(['payload', 'raw zmq + codec', 'correio unbatched', 'correio batched (≤64)', 'unbatched vs raw', 'batched / unbatched'], psRows));
