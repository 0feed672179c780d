import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ManualTime, SynchronizedTime } from '@correio/clocks';

const START = 1_700_000_000_000;

describe('SynchronizedTime', () => {
  it('follows its base until adjusted', () => {
    const base = new ManualTime(START);
    const time = new SynchronizedTime(base);
    base.advance(10);
    expect(time.now()).toBe(START + 10);
    expect(time.offset).toBe(0);
    expect(time.pending).toBe(0);
  });

  it('slews a positive adjustment in at half the elapsed time', () => {
    const base = new ManualTime(START);
    const time = new SynchronizedTime(base);
    time.adjust(1_000);
    expect(time.correctedNow()).toBe(START + 1_000); // the target moves at once …
    expect(time.now()).toBe(START); // … the clock does not jump
    base.advance(1_000);
    expect(time.offset).toBe(500);
    expect(time.pending).toBe(500);
    expect(time.now()).toBe(START + 1_500);
    base.advance(1_000);
    expect(time.offset).toBe(1_000);
    expect(time.pending).toBe(0);
    base.advance(1_000);
    expect(time.now()).toBe(START + 4_000);
  });

  it('slews a negative adjustment without ever going backwards', () => {
    const base = new ManualTime(START);
    const time = new SynchronizedTime(base);
    base.advance(5);
    time.adjust(-60_000);
    const first = time.now();
    let last = first;
    let smallestStep = Number.POSITIVE_INFINITY;
    let largestStep = Number.NEGATIVE_INFINITY;
    for (let ms = 0; ms < 120_000; ms++) {
      base.advance(1);
      const reading = time.now();
      smallestStep = Math.min(smallestStep, reading - last);
      largestStep = Math.max(largestStep, reading - last);
      last = reading;
    }
    expect(smallestStep).toBe(0); // never backwards
    expect(largestStep).toBe(1);
    expect(last - first).toBe(60_000); // half speed: 60 s of progress in 120 s
    expect(time.pending).toBe(0);
    expect(time.now()).toBe(base.now() - 60_000);
    expect(time.correctedNow()).toBe(base.now() - 60_000);
  });

  it('honours a custom slew rate', () => {
    const base = new ManualTime(START);
    const time = new SynchronizedTime(base, { maxSlewRate: 0.1 });
    time.adjust(-100);
    base.advance(500);
    expect(time.pending).toBe(-50);
    base.advance(500);
    expect(time.pending).toBe(0);
    expect(() => new SynchronizedTime(base, { maxSlewRate: 1 })).toThrow(RangeError);
    expect(() => new SynchronizedTime(base, { maxSlewRate: 0 })).toThrow(RangeError);
    expect(() => time.adjust(0.5)).toThrow(RangeError);
  });

  it('stays continuous when its base steps back, then slews the step out', () => {
    const base = new ManualTime(START);
    const time = new SynchronizedTime(base);
    base.advance(100);
    expect(time.now()).toBe(START + 100);
    base.set(START - 900); // the OS clock is stepped back by 1 s
    expect(time.now()).toBe(START + 100);
    expect(time.pending).toBe(-1_000);
    base.advance(2_000);
    expect(time.pending).toBe(0);
    expect(time.now()).toBe(base.now());
  });

  it('never goes backwards and converges on base + Σ adjustments, whatever the adjustments and base steps', () => {
    const action = fc.oneof(
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 5_000 }) }),
      fc.record({ kind: fc.constant('adjust' as const), ms: fc.integer({ min: -300_000, max: 300_000 }) }),
      fc.record({ kind: fc.constant('step-back' as const), ms: fc.integer({ min: 1, max: 60_000 }) }),
    );
    fc.assert(
      fc.property(fc.double({ min: 0.05, max: 0.95, noNaN: true }), fc.array(action, { maxLength: 100 }), (rate, actions) => {
        const base = new ManualTime(START);
        const time = new SynchronizedTime(base, { maxSlewRate: rate });
        let last = time.now();
        let adjusted = 0;
        for (const { kind, ms } of actions) {
          if (kind === 'advance') base.advance(ms);
          else if (kind === 'adjust') {
            time.adjust(ms);
            adjusted += ms;
          } else base.set(base.now() - ms);
          const reading = time.now();
          expect(Number.isInteger(reading)).toBe(true);
          expect(reading).toBeGreaterThanOrEqual(last);
          last = reading;
        }
        // Let it settle: the remaining adjustment slews out in |pending| / rate ms.
        const settle = Math.ceil(Math.abs(time.pending) / rate) + 1;
        base.advance(settle);
        expect(time.now()).toBeGreaterThanOrEqual(last);
        expect(time.pending).toBe(0);
        // Base steps were absorbed and slewed out; what remains is exactly the adjustments.
        expect(time.now()).toBe(base.now() + adjusted);
        expect(time.correctedNow()).toBe(base.now() + adjusted);
      }),
    );
  });
});
