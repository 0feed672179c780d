import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ClockDriftError,
  HybridLogicalClock,
  MAX_CLOCK_VALUE,
  MAX_HLC_LOGICAL,
  MAX_RECEIVED_HLC_LOGICAL,
  ManualTime,
  compareHlc,
  decodeHlc,
  encodeHlc,
  skewedTime,
  type Hlc,
  type TimeSource,
} from '@correio/clocks';
import { randomInt, seededRandom } from '@correio/testing';

const START = 1_700_000_000_000;
const hlcArbitrary: fc.Arbitrary<Hlc> = fc.record({
  wallMs: fc.integer({ min: 0, max: MAX_CLOCK_VALUE }),
  logical: fc.integer({ min: 0, max: MAX_HLC_LOGICAL }),
});

describe('HLC values', () => {
  it('round-trip through the [wall_ms, logical] wire form', () => {
    fc.assert(
      fc.property(hlcArbitrary, (hlc) => {
        const wire = encodeHlc(hlc);
        expect(wire).toEqual([hlc.wallMs, hlc.logical]);
        expect(decodeHlc(wire)).toEqual(hlc);
      }),
    );
  });

  it('compare by wall_ms, then logical: a total order', () => {
    fc.assert(
      fc.property(hlcArbitrary, hlcArbitrary, hlcArbitrary, (a, b, c) => {
        const expected = a.wallMs !== b.wallMs ? Math.sign(a.wallMs - b.wallMs) : Math.sign(a.logical - b.logical);
        expect(compareHlc(a, b)).toBe(expected);
        expect(compareHlc(b, a)).toBe(-expected);
        if (compareHlc(a, b) <= 0 && compareHlc(b, c) <= 0) expect(compareHlc(a, c)).toBeLessThanOrEqual(0);
      }),
    );
    expect(compareHlc({ wallMs: 5, logical: 9 }, { wallMs: 6, logical: 0 })).toBeLessThan(0);
  });

  it('refuse to decode anything but two integers in range', () => {
    for (const bad of [
      undefined,
      null,
      [1],
      [1, 2, 3],
      [-1, 0],
      [1.5, 0],
      [0, MAX_HLC_LOGICAL + 1],
      [MAX_CLOCK_VALUE + 1, 0],
      ['1', 0],
      { wallMs: 1, logical: 0 },
    ]) {
      expect(() => decodeHlc(bad), JSON.stringify(bad)).toThrow(TypeError);
    }
  });
});

describe('HybridLogicalClock', () => {
  it('follows physical time and counts events within one millisecond', () => {
    const time = new ManualTime(START);
    const clock = new HybridLogicalClock({ time });
    expect(clock.now()).toEqual({ wallMs: START, logical: 0 });
    expect(clock.now()).toEqual({ wallMs: START, logical: 1 });
    time.advance(1);
    expect(clock.now()).toEqual({ wallMs: START + 1, logical: 0 });
    expect(clock.last).toEqual({ wallMs: START + 1, logical: 0 });
  });

  it('merges remote timestamps as Kulkarni et al. specify', () => {
    const time = new ManualTime(START);
    const clock = new HybridLogicalClock({ time });
    clock.now(); // (START, 0)
    expect(clock.update({ wallMs: START + 10, logical: 4 })).toEqual({ wallMs: START + 10, logical: 5 }); // remote ahead
    expect(clock.update({ wallMs: START + 10, logical: 2 })).toEqual({ wallMs: START + 10, logical: 6 }); // same wall: max + 1
    expect(clock.update({ wallMs: START + 3, logical: 99 })).toEqual({ wallMs: START + 10, logical: 7 }); // remote behind
    expect(clock.now()).toEqual({ wallMs: START + 10, logical: 8 }); // physical still behind wallMs
    time.advance(20);
    expect(clock.update({ wallMs: START + 12, logical: 3 })).toEqual({ wallMs: START + 20, logical: 0 }); // physical ahead
  });

  it('does not go backwards when its physical clock does', () => {
    const time = new ManualTime(START);
    const clock = new HybridLogicalClock({ time });
    const before = clock.now();
    time.set(START - 5_000);
    const after = clock.now();
    expect(compareHlc(after, before)).toBeGreaterThan(0);
    expect(after).toEqual({ wallMs: START, logical: 1 });
  });

  it('rejects a remote timestamp further ahead than maxOffsetMs, and is left unchanged', () => {
    const time = new ManualTime(START);
    const clock = new HybridLogicalClock({ time, maxOffsetMs: 1_000 });
    const before = clock.now();
    expect(clock.update({ wallMs: START + 1_000, logical: 0 })).toEqual({ wallMs: START + 1_000, logical: 1 }); // at the bound: accepted
    const error = (() => {
      try {
        clock.update({ wallMs: START + 1_001 + 1, logical: 0 });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ClockDriftError);
    const drift = error as ClockDriftError;
    expect(drift.code).toBe('BAD_REQUEST');
    expect(drift.retryable).toBe(false);
    expect(drift.aheadMs).toBe(1_002);
    expect(drift.data).toEqual({ remote: [START + 1_002, 0], physical_ms: START, max_offset_ms: 1_000 });
    expect(clock.last).toEqual({ wallMs: START + 1_000, logical: 1 });
    expect(compareHlc(clock.now(), before)).toBeGreaterThan(0);
    expect(new HybridLogicalClock({ time, maxOffsetMs: Number.POSITIVE_INFINITY }).update({ wallMs: START + 10 ** 9, logical: 0 }).wallMs).toBe(
      START + 10 ** 9,
    );
  });

  it('refuses a received logical part above 2^31 − 1, so no peer can push it to 2^32 − 1; RangeError for what is not an HLC value', () => {
    const time = new ManualTime(START);
    const clock = new HybridLogicalClock({ time });
    expect(clock.update({ wallMs: START, logical: MAX_RECEIVED_HLC_LOGICAL })).toEqual({ wallMs: START, logical: MAX_RECEIVED_HLC_LOGICAL + 1 });
    for (const logical of [MAX_RECEIVED_HLC_LOGICAL + 1, MAX_HLC_LOGICAL]) {
      let refused: unknown;
      try {
        clock.update({ wallMs: START, logical });
      } catch (error) {
        refused = error;
      }
      expect(refused).toBeInstanceOf(ClockDriftError);
      expect((refused as ClockDriftError).data.max_logical).toBe(MAX_RECEIVED_HLC_LOGICAL);
    }
    expect(clock.last).toEqual({ wallMs: START, logical: MAX_RECEIVED_HLC_LOGICAL + 1 });
    expect(clock.now()).toEqual({ wallMs: START, logical: MAX_RECEIVED_HLC_LOGICAL + 2 }); // room to tick
    expect(() => clock.update({ wallMs: START, logical: MAX_HLC_LOGICAL + 1 })).toThrow(RangeError);
    expect(() => clock.update({ wallMs: -1, logical: 0 })).toThrow(RangeError);
  });

  it('resumes past a stored timestamp whose logical part an older version let run high, still sorting after it', () => {
    const time = new ManualTime(START);
    const clock = new HybridLogicalClock({ time });
    const stored = { wallMs: START, logical: MAX_HLC_LOGICAL };
    const resumed = clock.resume(stored);
    expect(resumed).toEqual({ wallMs: START + 1, logical: 1 });
    expect(compareHlc(clock.now(), stored)).toBeGreaterThan(0);
    expect(new HybridLogicalClock({ time }).resume({ wallMs: START - 5, logical: 3 })).toEqual({ wallMs: START, logical: 0 });
  });

  it('refuses a physical clock that does not give integer ms', () => {
    const clock = new HybridLogicalClock({ time: { now: () => 1.5 } });
    expect(() => clock.now()).toThrow(RangeError);
  });

  it('restarted after more than maxOffsetMs, stays above every timestamp of its predecessor', () => {
    const time = new ManualTime(START);
    const first = new HybridLogicalClock({ time, maxOffsetMs: 500 });
    first.now();
    const last = first.update({ wallMs: START + 500, logical: 7 }); // dragged as far ahead as allowed
    time.advance(501);
    const second = new HybridLogicalClock({ time, maxOffsetMs: 500 });
    expect(compareHlc(second.now(), last)).toBeGreaterThan(0);
  });

  it('among 3 to 5 skewed, drifting processes: monotonic, happened-before preserved, logical part bounded', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 5 }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer(),
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        (n, skewRangeMs, seed, activity) => {
          const random = seededRandom(seed);
          const trueTime = new ManualTime(START);
          const physical: TimeSource[] = Array.from({ length: n }, () =>
            skewedTime({ base: trueTime, offsetMs: randomInt(random, 0, skewRangeMs), driftPpm: randomInt(random, -100, 100) }),
          );
          const clocks = physical.map((time) => new HybridLogicalClock({ time }));
          const last: Array<Hlc | undefined> = Array.from({ length: n }, () => undefined);
          const inFlight: Array<{ to: number; at: number; stamp: Hlc }> = [];
          let epsilon = 0; // the largest spread of the physical clocks seen at one instant
          let maxLogical = 0;

          for (let ms = 0; ms < 1_500; ms++) {
            trueTime.advance(1);
            const readings = physical.map((time) => time.now());
            const highest = Math.max(...readings);
            epsilon = Math.max(epsilon, highest - Math.min(...readings));
            // Each process records at most one event per ms: receive if a message is due, else maybe send or a local event.
            for (let p = 0; p < n; p++) {
              let stamp: Hlc;
              const due = inFlight.findIndex((message) => message.to === p && message.at <= ms);
              if (due >= 0) {
                const [message] = inFlight.splice(due, 1);
                stamp = clocks[p]!.update(message!.stamp);
                expect(compareHlc(stamp, message!.stamp)).toBeGreaterThan(0); // send happened before receive
              } else if (random() < activity) {
                stamp = clocks[p]!.now();
                if (random() < 0.7) {
                  const to = (p + 1 + randomInt(random, 0, n - 2)) % n;
                  inFlight.push({ to, at: ms + randomInt(random, 0, 30), stamp });
                }
              } else continue;
              if (last[p] !== undefined) expect(compareHlc(stamp, last[p]!)).toBeGreaterThan(0); // program order
              last[p] = stamp;
              expect(stamp.wallMs).toBeGreaterThanOrEqual(readings[p]!); // never behind its physical clock …
              expect(stamp.wallMs).toBeLessThanOrEqual(highest); // … nor ahead of every physical clock
              maxLogical = Math.max(maxLogical, stamp.logical);
            }
          }
          // Kulkarni et al.'s bound N·(ε+1), plus one ms for reading clocks in whole ms.
          expect(maxLogical).toBeLessThan(n * (epsilon + 2));
        },
      ),
      { numRuns: 40 },
    );
  });
});
