import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ElectionSimulation, type SimulationConfig } from './support/ElectionSimulation.js';

// Heartbeats every 50 ms, down after 3 misses (150 ms), leases of 150 ms, election timeout 100 ms,
// one-way delays of 1–20 ms: all well inside the election timeout, as the guarantee assumes.
const BASE = { heartbeatMs: 50, misses: 3, electionTimeoutMs: 100, announceIntervalMs: 100, minDelay: 1, maxDelay: 20 } as const;
const E = BASE.electionTimeoutMs;
/** Detection (misses × interval + a check period + delays) plus an election with a failed ask, plus slack. */
const CONVERGENCE_BOUND = BASE.heartbeatMs * BASE.misses + BASE.heartbeatMs + 4 * BASE.maxDelay + 3 * E;

const ranksArb = fc.uniqueArray(fc.integer({ min: 1, max: 50 }), { minLength: 2, maxLength: 5 });

function simulation(ranks: number[], seed: number, extra: Partial<SimulationConfig> = {}): ElectionSimulation {
  return new ElectionSimulation({ ...BASE, ranks, seed, ...extra });
}

describe('bully election in a simulated cluster', () => {
  it('elects the highest-ranked server, and only it ever acts', () => {
    fc.assert(
      fc.property(ranksArb, fc.integer(), (ranks, seed) => {
        const sim = simulation(ranks, seed);
        sim.run(2000);
        const top = `n${Math.max(...ranks)}`;
        expect(sim.settledOn(top, 0)).toBeLessThanOrEqual(CONVERGENCE_BOUND);
        expect(sim.longestOverlap()).toBe(0);
        for (const node of sim.nodes.values()) expect(node.machine.state(sim.time).coordinator?.server).toBe(top);
      }),
      { numRuns: 150 },
    );
  });

  it('after the coordinator crashes, the next highest takes over within the bound, with no overlap', () => {
    fc.assert(
      fc.property(ranksArb, fc.integer(), fc.integer({ min: 300, max: 900 }), (ranks, seed, crashAt) => {
        const sim = simulation(ranks, seed);
        const sorted = [...ranks].sort((a, b) => b - a);
        sim.crash(`n${sorted[0]}`, crashAt);
        sim.run(crashAt + 2000);
        const successor = `n${sorted[1]}`;
        const settled = sim.settledOn(successor, crashAt);
        expect(settled).toBeDefined();
        expect(settled! - crashAt).toBeLessThanOrEqual(CONVERGENCE_BOUND);
        expect(sim.longestOverlap()).toBe(0);
      }),
      { numRuns: 150 },
    );
  });

  it('a paused coordinator stops acting by its lease; on resumption it takes over again, overlapping by less than one election timeout', () => {
    fc.assert(
      fc.property(ranksArb, fc.integer(), fc.integer({ min: 300, max: 900 }), fc.integer({ min: 200, max: 1500 }), (ranks, seed, pauseAt, pauseFor) => {
        const sim = simulation(ranks, seed);
        const top = `n${Math.max(...ranks)}`;
        sim.pause(top, pauseAt, pauseAt + pauseFor);
        sim.run(pauseAt + pauseFor + 2000);
        expect(sim.longestOverlap()).toBeLessThan(E);
        const settled = sim.settledOn(top, pauseAt + pauseFor);
        expect(settled).toBeDefined();
        expect(settled! - (pauseAt + pauseFor)).toBeLessThanOrEqual(CONVERGENCE_BOUND);
      }),
      { numRuns: 150 },
    );
  });

  it('a coordinator cut off from the network stops acting by its lease, before a successor acts', () => {
    fc.assert(
      fc.property(ranksArb, fc.integer(), fc.integer({ min: 300, max: 900 }), fc.integer({ min: 200, max: 1500 }), (ranks, seed, from, length) => {
        const sim = simulation(ranks, seed);
        const sorted = [...ranks].sort((a, b) => b - a);
        sim.isolate(`n${sorted[0]}`, from, from + length);
        sim.run(from + length + 2000);
        expect(sim.longestOverlap()).toBeLessThan(E);
        // A long enough cut: the next highest took over meanwhile, and handed back afterwards.
        if (length > CONVERGENCE_BOUND) expect(sim.actedAlone(`n${sorted[1]}`, from, from + length)).toBe(true);
        const settled = sim.settledOn(`n${sorted[0]}`, from + length);
        expect(settled).toBeDefined();
        expect(settled! - (from + length)).toBeLessThanOrEqual(CONVERGENCE_BOUND);
      }),
      { numRuns: 150 },
    );
  });

  it('any server may be paused or crash: the survivors converge on the highest live one', () => {
    fc.assert(
      fc.property(
        ranksArb,
        fc.integer(),
        fc.array(fc.record({ victim: fc.nat(), at: fc.integer({ min: 100, max: 1500 }), for: fc.integer({ min: 50, max: 800 }), crash: fc.boolean() }), { maxLength: 4 }),
        (ranks, seed, faults) => {
          const sim = simulation(ranks, seed);
          const crashed = new Set<number>();
          let lastFault = 0;
          for (const fault of faults) {
            const rank = ranks[fault.victim % ranks.length]!;
            if (crashed.has(rank)) continue;
            if (fault.crash && crashed.size < ranks.length - 1) {
              crashed.add(rank);
              sim.crash(`n${rank}`, fault.at);
              lastFault = Math.max(lastFault, fault.at);
            } else if (!fault.crash) {
              sim.pause(`n${rank}`, fault.at, fault.at + fault.for);
              lastFault = Math.max(lastFault, fault.at + fault.for);
            }
          }
          sim.run(lastFault + 2500);
          expect(sim.longestOverlap()).toBeLessThan(E);
          const survivor = `n${Math.max(...ranks.filter((rank) => !crashed.has(rank)))}`;
          const settled = sim.settledOn(survivor, lastFault);
          expect(settled).toBeDefined();
        },
      ),
      {
        numRuns: 200,
        // Found by CI: membership updates about n5 reordered ("up" then a stale "down") left n4
        // usurping n5 whenever a lower server asked, forever (BullyElection now trusts announcements).
        examples: [[[2, 1, 4, 3, 5], 1770240976, [{ victim: 0, at: 101, for: 50, crash: false }, { victim: 9, at: 1495, for: 50, crash: false }, { victim: 1236643541, at: 201, for: 351, crash: false }]]],
      },
    );
  });

  it('converges even when announcements are lost (re-announcements repair it)', () => {
    fc.assert(
      fc.property(ranksArb, fc.integer(), fc.integer({ min: 300, max: 900 }), (ranks, seed, crashAt) => {
        const sim = simulation(ranks, seed, { dropAnnouncements: 0.3 });
        const sorted = [...ranks].sort((a, b) => b - a);
        sim.crash(`n${sorted[0]}`, crashAt);
        sim.run(crashAt + 3000);
        expect(sim.settledOn(`n${sorted[1]}`, crashAt)).toBeDefined();
        for (const node of sim.nodes.values()) {
          if (node.id !== `n${sorted[0]}`) expect(node.machine.state(sim.time).coordinator?.server).toBe(`n${sorted[1]}`);
        }
      }),
      { numRuns: 100 },
    );
  });
});
