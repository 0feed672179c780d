// The schema-valid hostile corpus (src/hostile) against a live topology: the broker, proxy, ref
// and three chat servers as child processes on loopback ports, and a hostile peer sending
// envelopes that pass every validator but carry extreme values — to every service and on every
// topic the servers subscribe to — for a fixed time with a fixed seed. Afterwards every process
// is alive, every request was answered with a valid envelope, an honest client is served, the
// servers converge, and each restarts from its store (which verifies it) with nothing lost. The
// Python peer then sends its own Hypothesis corpus the same way, and every envelope is answered.
// `npm run soak:hostile` runs the same for longer, with any seed.
import { MESSAGE_TYPES } from '@correio/protocol';
import { killAll, scratchDir } from '@correio/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { requirePeerToolchains, spawnPython, startTopology, type Topology } from '../src/index.js';
import { assertAlive, checkAftermath } from '../src/hostile/aftermath.js';
import { runCampaign, type CampaignReport } from '../src/hostile/campaign.js';

const SEED = 22;
/** The time budget of the sending (the issue allows 60 s in CI). */
const SENDING_MS = 20_000;
const STARTUP_MS = 120_000;
/** Envelopes the Python peer sends after the TypeScript campaign. */
const PYTHON_COUNT = 40;
/**
 * Anti-entropy runs every 2 s per peer; the hostile operations are many, the machine small and
 * shared. (Requests beyond the Lamport bounds are served clamped, so a burst can no longer get the
 * servers' heartbeats refused by the ref and hold convergence back until its budget refills, #22:
 * `npm run soak:hostile -- --seed 1234 --minutes 1` converged in 1.7 s.)
 */
const CONVERGE_MS = 60_000;

const scratch = scratchDir('correio-hostile-');
let topology: Topology;

beforeAll(async () => {
  requirePeerToolchains();
  // Password mode, as a cluster runs in earnest: the campaign's chat requests carry its users' valid
  // tokens, forged ones (every token attack) or none; the honest client registers and logs in.
  topology = await startTopology({ dataDir: scratch.dir, servers: 3, auth: 'password' });
}, STARTUP_MS + 60_000);

afterAll(async () => {
  await killAll();
  scratch.remove();
});

it(`survives ${SENDING_MS / 1000} s of schema-valid hostile envelopes (seed ${SEED}): every process alive, every request answered, stores verified, honest clients served`, async () => {
  const report = await runCampaign(topology, { seed: SEED, durationMs: SENDING_MS });
  const context = (report: CampaignReport) => `seed ${report.seed}; the last shots:\n${report.recent.join('\n')}`;
  try {
    assertAlive(topology.children.values());
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${context(report)}`);
  }
  expect(report.unanswered, context(report)).toEqual([]);
  expect(report.malformedReplies).toBe(0);
  // The roll call reaches everything whatever the machine's speed; the random shots add what the budget allows.
  expect([...report.types].sort()).toEqual([...MESSAGE_TYPES].sort());
  for (const service of ['chat', 'ref', 'mmi.service', 'svc.nobody', ...topology.servers.map((id) => `srv.${id}`)]) expect(report.services).toContain(service);
  for (const topic of ['replica/', 'election/', 'ref/membership/', 'chan/mallet/']) expect(report.topics).toContain(topic);
  expect(report.batches).toBeGreaterThan(0);
  // Valid tokens got requests served; forged and missing ones were refused, not crashed on.
  expect(report.outcomes['ok'] ?? 0, JSON.stringify(report.outcomes)).toBeGreaterThan(0);
  expect(report.outcomes['UNAUTHENTICATED'] ?? 0, JSON.stringify(report.outcomes)).toBeGreaterThan(0);

  // The Python peer's own corpus (Hypothesis, peers/python/interop/hostile.py), at the same topology.
  const python = spawnPython('python hostile peer', 'hostile_peer', ['--broker', topology.broker, '--servers', topology.servers.join(','), '--count', String(PYTHON_COUNT), '--seed', String(SEED)]);
  const pythonLine = await python.waitForLine((line) => line.startsWith('{"sent"'), STARTUP_MS);
  const fromPython = JSON.parse(pythonLine) as { sent: number; answered: number; unanswered: string[]; malformed: number };
  expect(fromPython).toMatchObject({ answered: fromPython.sent, unanswered: [], malformed: 0 });
  expect(fromPython.sent).toBeGreaterThan(PYTHON_COUNT / 2); // Hypothesis may stop early once it has seen enough, never at nothing
  expect((await python.exited).code).toBe(0);

  const aftermath = await checkAftermath(topology, { convergeMs: CONVERGE_MS, startupMs: STARTUP_MS });
  process.stdout.write(`hostile corpus: ${report.requests} requests, ${report.publications} publications, ${JSON.stringify(report.outcomes)}; Python peer ${pythonLine}; converged in ${Math.round(aftermath.convergedMs)} ms\n`);
}, SENDING_MS + STARTUP_MS + 4 * CONVERGE_MS);
