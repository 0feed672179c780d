import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BerkeleySimulation, type SimulatedProcessSpec } from './support/BerkeleySimulation.js';

// The simulated network and clocks.
const DELAY_MS: [number, number] = [1, 25]; // one-way, uniform per message
const DRIFT_PPM = 100; // every hardware clock gains or loses up to this much
const SKEW_MS = 180_000; // initial offsets: up to ±3 minutes
const ROUND_INTERVAL_MS = 10_000;
const ROUND_TIMEOUT_MS = 1_000;
const MAX_RTT_MS = 100;
const MAX_DEVIATION_MS = 420_000;
const ROUNDS_MEASURED = 10;

/**
 * The README's bound: once the initial adjustments have slewed in, any two clocks are within
 * (d_max − d_min) + 2ρ·T + 4 ms, where d is the one-way delay (each offset estimate is off by at most
 * half the delay asymmetry), ρ the drift and T the time between rounds (plus the round's timeout);
 * 4 ms cover whole-ms clock readings and rounding adjust_ms. Here: 24 + 2.2 + 4.
 */
const BOUND_MS = Math.floor(DELAY_MS[1] - DELAY_MS[0] + (2 * DRIFT_PPM * (ROUND_INTERVAL_MS + ROUND_TIMEOUT_MS)) / 1e6 + 4);

const coordinator = { maxDeviationMs: MAX_DEVIATION_MS, maxRttMs: MAX_RTT_MS, roundTimeoutMs: ROUND_TIMEOUT_MS };

const processSpecs = (min: number, max: number): fc.Arbitrary<SimulatedProcessSpec[]> =>
  fc
    .array(fc.record({ offsetMs: fc.integer({ min: -SKEW_MS, max: SKEW_MS }), driftPpm: fc.integer({ min: -DRIFT_PPM, max: DRIFT_PPM }) }), {
      minLength: min,
      maxLength: max,
    })
    .map((clocks) => clocks.map((clock, index) => ({ id: `p${index}`, ...clock, delayMs: DELAY_MS })));

/** Simulated time for every adjustment of the first round to slew in (at half speed), rounded up to whole rounds, plus one. */
function warmUpMs(specs: readonly SimulatedProcessSpec[]): number {
  const offsets = specs.map((spec) => spec.offsetMs);
  const worstAdjustment = Math.max(...offsets) - Math.min(...offsets);
  return (Math.ceil((2 * worstAdjustment) / ROUND_INTERVAL_MS) + 2) * ROUND_INTERVAL_MS;
}

describe('Berkeley synchronisation, simulated', () => {
  it(`keeps 3 to 5 skewed, drifting clocks within ${BOUND_MS} ms of each other, never going backwards`, () => {
    fc.assert(
      fc.property(processSpecs(3, 5), fc.integer(), (specs, seed) => {
        const simulation = new BerkeleySimulation({ processes: specs, seed, roundIntervalMs: ROUND_INTERVAL_MS, coordinator });
        const ids = specs.map((spec) => spec.id);

        // One round sets every clock's target: the corrected clocks agree at once …
        simulation.run(ROUND_INTERVAL_MS + ROUND_TIMEOUT_MS + 2 * DELAY_MS[1]);
        expect(simulation.rounds).toHaveLength(1);
        expect(simulation.rounds[0]!.clocks.every((clock) => clock.status === 'included')).toBe(true);
        const corrected = simulation.processes.map((process) => process.time.correctedNow());
        expect(Math.max(...corrected) - Math.min(...corrected)).toBeLessThanOrEqual(BOUND_MS);

        // … and the clocks themselves once they have slewed there (the simulation throws if one ever goes back).
        simulation.run(warmUpMs(specs));
        let worstSpread = 0;
        simulation.run(ROUNDS_MEASURED * ROUND_INTERVAL_MS, () => {
          worstSpread = Math.max(worstSpread, simulation.spread(ids));
        });
        expect(worstSpread).toBeLessThanOrEqual(BOUND_MS);
        expect(simulation.adjustReplies.every((reply) => reply.applied)).toBe(true);
      }),
      { numRuns: 8 },
    );
  });

  it('leaves a wild clock out of every average; the others still agree', () => {
    fc.assert(
      fc.property(processSpecs(3, 5), fc.nat(), fc.integer(), (specs, pick, seed) => {
        const wildIndex = 1 + (pick % (specs.length - 1)); // any process but the coordinator
        // The wild clock is an hour fast and refuses to be corrected by more than 10 minutes.
        const processes = specs.map((spec, index) => (index === wildIndex ? { ...spec, offsetMs: 3_600_000, maxAdjustMs: 600_000 } : spec));
        const wild = `p${wildIndex}`;
        const simulation = new BerkeleySimulation({ processes, seed, roundIntervalMs: ROUND_INTERVAL_MS, coordinator });
        simulation.run(warmUpMs(specs.filter((_, index) => index !== wildIndex)) + ROUNDS_MEASURED * ROUND_INTERVAL_MS);

        for (const round of simulation.rounds) {
          const included = round.clocks.filter((clock) => clock.status === 'included');
          expect(round.clocks.find((clock) => clock.participant === wild)!.status).toBe('outlier');
          expect(included).toHaveLength(processes.length - 1);
          const mean = included.reduce((sum, clock) => sum + clock.offsetMs!, 0) / included.length;
          expect(round.averageOffsetMs).toBeCloseTo(mean, 6);
        }
        expect(simulation.adjustReplies.filter((reply) => reply.participant === wild).every((reply) => !reply.applied)).toBe(true);
        const others = processes.map((process) => process.id).filter((id) => id !== wild);
        expect(simulation.spread(others)).toBeLessThanOrEqual(BOUND_MS);
      }),
      { numRuns: 4 },
    );
  });

  it('pulls a wild clock that accepts the correction back into the fold', () => {
    fc.assert(
      fc.property(processSpecs(4, 5), fc.integer(), (specs, seed) => {
        const processes = specs.map((spec, index) => (index === 1 ? { ...spec, offsetMs: -3_600_000 } : spec));
        const simulation = new BerkeleySimulation({ processes, seed, roundIntervalMs: ROUND_INTERVAL_MS, coordinator });
        simulation.run(3 * ROUND_INTERVAL_MS + ROUND_TIMEOUT_MS);
        const statuses = simulation.rounds.map((round) => round.clocks.find((clock) => clock.participant === 'p1')!.status);
        expect(statuses).toEqual(['outlier', 'included', 'included']);
        // Its target is in line at once; its clock slews there over the next two hours without going back.
        const corrected = simulation.processes.map((process) => process.time.correctedNow());
        expect(Math.max(...corrected) - Math.min(...corrected)).toBeLessThanOrEqual(BOUND_MS);
        expect(simulation.process('p1').time.pending).toBeGreaterThan(3_000_000);
      }),
      { numRuns: 4 },
    );
  });

  it('keeps a clock behind a slow link out of the vote, and moves it only as far as its round trip allows', () => {
    const SLOW_DELAY_MS: [number, number] = [400, 700];
    fc.assert(
      fc.property(processSpecs(3, 5), fc.integer(), (specs, seed) => {
        const slowIndex = specs.length - 1;
        const processes = specs.map((spec, index) => (index === slowIndex ? { ...spec, delayMs: SLOW_DELAY_MS } : spec));
        const slow = `p${slowIndex}`;
        const simulation = new BerkeleySimulation({
          processes,
          seed,
          roundIntervalMs: ROUND_INTERVAL_MS,
          coordinator: { ...coordinator, roundTimeoutMs: 2 * SLOW_DELAY_MS[1] + 100 },
        });
        // The slow clock converges in steps of (|offset| − rtt/2): allow it the rounds to get there.
        simulation.run(warmUpMs(specs) + 2 * warmUpMs(specs) + ROUNDS_MEASURED * ROUND_INTERVAL_MS);

        for (const round of simulation.rounds) {
          expect(round.clocks.find((clock) => clock.participant === slow)!.status).toBe('slow');
          expect(round.clocks.filter((clock) => clock.status === 'included')).toHaveLength(processes.length - 1);
        }
        const others = processes.map((process) => process.id).filter((id) => id !== slow);
        expect(simulation.spread(others)).toBeLessThanOrEqual(BOUND_MS);
        // It stops once the remaining offset is within its uncertainty: rtt/2 plus the delay asymmetry.
        const distance = Math.max(...others.map((id) => Math.abs(simulation.process(id).time.now() - simulation.process(slow).time.now())));
        expect(distance).toBeLessThanOrEqual(SLOW_DELAY_MS[1] + (SLOW_DELAY_MS[1] - SLOW_DELAY_MS[0]) / 2 + BOUND_MS);
      }),
      { numRuns: 4 },
    );
  });
});
