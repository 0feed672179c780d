import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ManualTime, skewedTime, systemTime } from '@correio/clocks';

describe('systemTime', () => {
  it('reads the operating-system clock in integer ms', () => {
    const before = Date.now();
    const reading = systemTime.now();
    expect(Number.isInteger(reading)).toBe(true);
    expect(reading).toBeGreaterThanOrEqual(before);
    expect(reading).toBeLessThanOrEqual(Date.now());
  });
});

describe('ManualTime', () => {
  it('moves only when told to, backwards only through set()', () => {
    const time = new ManualTime(1_000);
    expect(time.now()).toBe(1_000);
    expect(time.advance(250)).toBe(1_250);
    expect(time.now()).toBe(1_250);
    time.set(900);
    expect(time.now()).toBe(900);
    expect(() => time.advance(-1)).toThrow(RangeError);
    expect(() => time.advance(0.5)).toThrow(RangeError);
    expect(() => new ManualTime(Number.NaN)).toThrow(RangeError);
  });
});

describe('skewedTime', () => {
  it('starts offsetMs off its base and gains driftPpm per million ms', () => {
    const base = new ManualTime(1_000_000);
    const fast = skewedTime({ base, offsetMs: 120_000, driftPpm: 100 });
    const slow = skewedTime({ base, offsetMs: -5_000, driftPpm: -100 });
    expect(fast.now()).toBe(1_120_000);
    expect(slow.now()).toBe(995_000);
    base.advance(1_000_000); // 1000 s later: +100 ms and −100 ms of drift
    expect(fast.now()).toBe(2_120_100);
    expect(slow.now()).toBe(1_994_900);
  });

  it('is monotonic and integer for any offset and drift in range', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -600_000, max: 600_000 }),
        fc.integer({ min: -999_999, max: 999_999 }),
        fc.array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 200 }),
        (offsetMs, driftPpm, steps) => {
          const base = new ManualTime(1_700_000_000_000);
          const clock = skewedTime({ base, offsetMs, driftPpm });
          let last = clock.now();
          for (const step of steps) {
            base.advance(step);
            const reading = clock.now();
            expect(Number.isInteger(reading)).toBe(true);
            expect(reading).toBeGreaterThanOrEqual(last);
            last = reading;
          }
        },
      ),
    );
  });

  it('refuses a drift that would stop or reverse the clock', () => {
    const base = new ManualTime();
    expect(() => skewedTime({ base, driftPpm: -1_000_000 })).toThrow(RangeError);
    expect(() => skewedTime({ base, offsetMs: Number.POSITIVE_INFINITY })).toThrow(RangeError);
  });
});
