// Temporary stress run hunting a busy-worker double dispatch. Not part of the benchmark.
import { spawn } from 'node:child_process';
import { RequestClient, Worker } from '@correio/transport';
import { compare } from './measure.js';
import { requestReply } from './requestReply.js';
const child = spawn(process.execPath, ['--conditions=@correio/source', '--import', 'tsx', 'bench/brokerProcess.ts'], { stdio: ['ignore', 'pipe', 'inherit'] });
const endpoint = await new Promise<string>((resolve) => child.stdout.once('data', (c: Buffer) => resolve(c.toString().trim())));
try {
  for (let round = 0; round < 8; round++) {
    for (const inFlight of [1, 100]) {
      for (const size of [64, 1024] as const) {
        const n = inFlight === 1 ? 1000 : 20000;
        const r = await compare(await requestReply(endpoint, size, inFlight, n), n, 2);
        console.log(round, inFlight, size, Math.round(r.raw), Math.round(r.correio));
      }
    }
  }
} catch (error) {
  console.log('FAILED', error);
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 1000).unref();
} finally {
  child.kill('SIGTERM');
  setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
}
void RequestClient; void Worker;
