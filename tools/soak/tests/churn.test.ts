// The churn soak, short enough for every test run: a broker (tcp and ipc), a proxy, a reference
// server and a chat server, all CURVE-only child processes, under churn peers that open hundreds
// of sockets (MDP clients and workers reusing each other's routing ids, publishers, subscribers,
// wrong-key and plaintext sockets) and are SIGKILLed mid-traffic. `npm run soak:churn` is the long one.
import { killAll, scratchDir } from '@correio/testing';
import { afterAll, expect, it } from 'vitest';
import { runChurn, summary } from '../src/index.js';

const scratch = scratchDir('correio-soak-test-');

afterAll(async () => {
  await killAll();
  scratch.remove();
});

it('every long-running program survives the churn, still serves, comes back within its RSS bound and stops cleanly', async () => {
  const started = Date.now();
  // Each phase as it ends, so that a run that times out on a loaded machine shows how far it got.
  const log = (line: string) => console.info(`+${((Date.now() - started) / 1_000).toFixed(1)} s ${line}`);
  const report = await runChurn({ dataDir: scratch.dir, warmUpMs: 3_000, durationMs: 8_000, minKilled: 4, clients: 240, peers: 3, servers: 1, seed: 15, log });
  console.info(summary(report)); // the measured figures, for the log

  expect(report.failures).toEqual([]);
  // The churn really ran: peers killed mid-traffic, hundreds of sockets, traffic of every kind.
  expect(report.peers.killed).toBeGreaterThanOrEqual(8);
  expect(report.counts.opened).toBeGreaterThanOrEqual(300);
  expect(report.counts.hostile).toBeGreaterThan(0);
  expect(report.counts.replies).toBeGreaterThan(0);
  expect(report.counts.served).toBeGreaterThan(0);
  expect(report.counts.received).toBeGreaterThan(0);
  // An honest client and subscriber were served before, after the warm-up and after the churn.
  expect(report.checks.map((check) => check.channel)).toEqual(['check-start', 'check-warm', 'check-end']);
  expect(report.programs.map((program) => program.name)).toEqual(['broker', 'proxy', 'ref', 'srv-1']);
  for (const program of report.programs) {
    expect(program.alive, program.name).toBe(true);
    expect(program.exit, program.name).toEqual({ code: 0, signal: null });
    expect(program.baselineKiB, program.name).toBeGreaterThan(0);
    expect(program.endKiB, program.name).toBeLessThanOrEqual(program.baselineKiB + program.boundKiB);
  }
}, 300_000);
