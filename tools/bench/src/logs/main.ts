// Central-logs benchmark (issue #19): log lines/s the log service ingests with no loss from
// --programs programs, and what shipping costs a program (CPU per 1,000 lines) against writing
// the same lines to stdout only, in the same run. Broker, proxy, ref and 1 or 3 chat servers
// (fsync per commit) and the programs (program.ts) run as child processes; afterwards every
// server's copy is read back and counted.
//   npm run bench:logs [-- --programs 8 --lines 5000 --servers 3 --rate 2000 --stdout pipe --data-root <dir>]
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { Command, Option, parseNonNegativeInt, parsePositiveInt } from '@correio/observability';
import { RequestClient } from '@correio/transport';
import { processCpuSeconds } from '../cpuTime.js';
import type { Topology } from '../e2e/topology.js';
import { requireRealDisk } from '../e2e/setup.js';
import { scratchUnder, stopAll } from '../processes.js';
import { startLogService } from './cluster.js';
import { PENDING_BOUND, spawnFleet, type FleetOptions, type StdoutSink } from './fleet.js';
import { printReport } from './report.js';
import { verifyStored } from './verify.js';

const options = new Command('bench:logs')
  .description('lines/s the central log service ingests with no loss, and the CPU a program spends shipping its lines against writing them to stdout only')
  .option('--programs <n>', 'programs logging at once', parsePositiveInt, 8)
  .option('--lines <n>', 'lines each program logs', parsePositiveInt, 5_000)
  .addOption(new Option('--servers <n>', 'chat servers serving logs (3: each batch copied to the 2 others before its reply)').choices(['1', '3']).default('3'))
  .option('--rate <n>', 'lines/s per program at most; 0: as fast as each shipper drains without dropping', parseNonNegativeInt, 0)
  .addOption(new Option('--stdout <sink>', "where the programs' stdout goes: a pipe this process drains, or /dev/null").choices(['pipe', 'null']).default('pipe'))
  .option('--data-root <dir>', 'parent of the servers\' data directories (a real disk: fsync on tmpfs is free)', tmpdir())
  .parse()
  .opts<{ programs: number; lines: number; servers: '1' | '3'; rate: number; stdout: StdoutSink; dataRoot: string }>();

const servers = Number(options.servers);
const began = performance.now();
const progress = (text: string) => process.stderr.write(`[${((performance.now() - began) / 1000).toFixed(1)} s] ${text}\n`);
/** Lines the parent ships before measuring, so the servers' code is compiled when the programs start. */
const WARMUP_BATCHES = 20;
const WARMUP_LINES = 500;

async function warmUp(client: RequestClient): Promise<void> {
  const boot = randomBytes(9).toString('base64url');
  for (let batch = 0; batch < WARMUP_BATCHES; batch++) {
    const lines = Array.from({ length: WARMUP_LINES }, (_, n) => ({ seq: batch * WARMUP_LINES + n + 1, at: Date.now(), level: 30 as const, msg: 'warm-up line', fields: `{"n":${n}}` }));
    await client.request('logs', 'logs.ship.request', { program: 'bench', instance: 'warm-up', boot, lines: lines as [(typeof lines)[0], ...typeof lines] }, { retries: 2 });
  }
}

/** CPU seconds of each of the log service's processes used by `work`. */
async function meteredService<T>(topology: Topology, work: (around: { go(): void; done(): void }) => Promise<T>): Promise<{ value: T; cpu: Map<string, number> }> {
  const cpu = new Map<string, number>();
  const value = await work({
    go: () => topology.processes.forEach(({ name, peer }) => cpu.set(name, processCpuSeconds(peer.process.pid!))),
    done: () => topology.processes.forEach(({ name, peer }) => cpu.set(name, processCpuSeconds(peer.process.pid!) - cpu.get(name)!)),
  });
  return { value, cpu };
}

const scratch = scratchUnder(requireRealDisk(resolve(options.dataRoot)), 'correio-logs-bench-');
const run = randomBytes(4).toString('hex');
const fleet = (mode: FleetOptions['mode']) =>
  spawnFleet({ mode, programs: options.programs, lines: options.lines, rate: options.rate, instancePrefix: `bench-${run}-${mode}`, stdout: options.stdout });
try {
  progress(`starting broker, proxy, ref and ${servers} server(s), and 2 × ${options.programs} programs…`);
  // The programs load while the servers start: neither is measured.
  const [stdoutFleet, shipFleet] = [fleet('stdout'), fleet('ship')];
  const topology = await startLogService(servers, scratch.path);
  const client = new RequestClient({ endpoint: topology.broker, from: 'bench-logs', timeout: 10_000 });
  try {
    await warmUp(client);
    progress(`${options.programs} programs × ${options.lines} lines to stdout only…`);
    const stdoutOnly = await stdoutFleet.run(undefined);
    await stdoutFleet.stop();
    progress(`${options.programs} programs × ${options.lines} lines to stdout and shipped…`);
    const { value: shipping, cpu: serviceCpu } = await meteredService(topology, (around) => shipFleet.run(topology.broker, around));
    await shipFleet.stop();

    progress('reading every line back from every server…');
    const ids = Array.from({ length: servers }, (_, n) => `srv.s${n + 1}`);
    const verification = await verifyStored(client, ids, new Map(shipping.map((result) => [result.instance, result.lines])));
    progress('done');

    const sink = options.stdout === 'pipe' ? 'stdout a pipe the benchmark drains' : 'stdout /dev/null';
    const pace = options.rate > 0 ? `at most ${options.rate} lines/s per program` : `as fast as each shipper drains without dropping (logging pauses above ${PENDING_BOUND.toLocaleString('en-US')} pending lines)`;
    const durability =
      servers === 3
        ? '3 chat servers + ref: a batch is committed with fsync on the server that took it and copied to the 2 live peers (each an fsynced commit) before the reply'
        : '1 chat server + ref: a batch is committed with fsync before the reply';
    printReport({
      configuration: `${options.programs} programs × ${options.lines.toLocaleString('en-US')} lines (pino JSON, ${sink}), ${pace}; ${durability}`,
      stdoutOnly: { label: 'stdout only (baseline)', results: stdoutOnly },
      shipping: { label: 'stdout + LogShipper → logs', results: shipping },
      serviceCpu,
      verification,
    });
    // A benchmark of a no-loss path that lost or dropped a line says so in its exit status too.
    if (verification.lost > 0 || shipping.some((result) => result.dropped > 0 || result.shipped < result.lines)) process.exitCode = 1;
  } finally {
    await client.close();
  }
} finally {
  // SIGKILL by PID to every process started (servers, programs): their data goes with the scratch directory.
  await stopAll();
  scratch.remove();
}
