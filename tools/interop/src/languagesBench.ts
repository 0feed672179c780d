// What crossing a language costs: an echo action called through the broker between microservices
// written with the TypeScript, Python and Go frameworks (the service drivers of
// tools/interop/SERVICE-DRIVER.md, each a separate process), at 1 and at 100 calls in flight, in
// one run. TS → TS is the baseline every other pair is compared with.
//   npm run bench:languages [-- --calls 3000 --inflight 1,100 --concurrency 16]
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { killAll } from '@correio/testing';
import type { CallLatencies } from './callLatencies.js';
import { buildGoPrograms, requirePeerToolchains } from './peerPrograms.js';
import { startServiceDriver, type ServiceDriverProcess, type ServiceLanguage } from './ServiceDriverProcess.js';
import { startTopology } from './Topology.js';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '3000' }, inflight: { type: 'string', default: '1,100' }, concurrency: { type: 'string', default: '16' } } });
const calls = Number(values.calls);
const inflights = values.inflight.split(',').map(Number);
/** Worker connections of every callee: the same in every language. */
const concurrency = Number(values.concurrency);
const PARAMS = { text: 'x'.repeat(64), n: 42 };

/** The pairs measured: a caller in one language, the callee service in another. */
const PAIRS: readonly { readonly caller: ServiceLanguage; readonly callee: ServiceLanguage }[] = [
  { caller: 'ts', callee: 'ts' },
  { caller: 'ts', callee: 'python' },
  { caller: 'python', callee: 'ts' },
  { caller: 'go', callee: 'ts' },
  { caller: 'ts', callee: 'go' },
];
const LABEL: Readonly<Record<ServiceLanguage, string>> = { ts: 'TS', python: 'Python', go: 'Go' };

requirePeerToolchains();
const scratch = mkdtempSync(join(tmpdir(), 'correio-bench-languages-'));
try {
  const [topology, goPrograms] = await Promise.all([startTopology({ dataDir: scratch, proxy: true }), buildGoPrograms(join(scratch, 'bin'))]);
  const start = (language: ServiceLanguage, role: 'callee' | 'caller') =>
    startServiceDriver(language, { name: `${role === 'callee' ? 'echo' : 'caller'}-${language}`, instance: `${role}-${language}`, broker: topology.broker, proxy: topology.proxy!, concurrency }, goPrograms);
  const languages: ServiceLanguage[] = ['ts', 'python', 'go'];
  const callees = new Map(languages.map((language) => [language, start(language, 'callee')] as const));
  const callers = new Map(languages.map((language) => [language, start(language, 'caller')] as const));
  const everyone: ServiceDriverProcess[] = [...callees.values(), ...callers.values()];
  await Promise.all(everyone.map((driver) => driver.ready(180_000)));

  console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; ${new Date().toISOString().slice(0, 10)}`);
  console.log(`echo of a ${JSON.stringify(PARAMS).length}-byte object through the broker; ${calls} calls per row; ${concurrency} worker connections per callee\n`);
  const rows: { pair: string; inflight: number; stats: CallLatencies }[] = [];
  for (const inflight of inflights) {
    for (const { caller, callee } of PAIRS) {
      const action = `echo-${callee}.echo`;
      await callers.get(caller)!.bench(action, PARAMS, Math.min(200, calls), inflight); // warm-up: connections, JIT
      const stats = await callers.get(caller)!.bench(action, PARAMS, calls, inflight);
      rows.push({ pair: `${LABEL[caller]} → ${LABEL[callee]}`, inflight, stats });
    }
  }

  const header = ['pair', 'in flight', 'calls/s', 'vs TS → TS', 'p50', 'p99', 'errors'];
  const table = rows.map(({ pair, inflight, stats }) => {
    const baseline = rows.find((row) => row.inflight === inflight && row.pair === 'TS → TS')!.stats;
    const rate = (stats.count - stats.errors) / stats.seconds;
    const baselineRate = (baseline.count - baseline.errors) / baseline.seconds;
    return [pair, String(inflight), Math.round(rate).toLocaleString('en-US'), `${(rate / baselineRate).toFixed(2)}×`, `${stats.p50_ms.toFixed(2)} ms`, `${stats.p99_ms.toFixed(2)} ms`, String(stats.errors)];
  });
  const widths = header.map((title, column) => Math.max(title.length, ...table.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((width, column) => (column === 0 ? '-'.repeat(width + 2) : `${'-'.repeat(width + 1)}:`)).join('|')}|`);
  for (const row of table) console.log(line(row));
  await Promise.all(everyone.map((driver) => driver.stop()));
} finally {
  await killAll();
  rmSync(scratch, { recursive: true, force: true });
}
