import { describe, expect, it } from 'vitest';
import { exponentialBackoff, toMillis } from '@correio/service';

describe('toMillis', () => {
  it('reads numbers as milliseconds and strings with a unit', () => {
    expect(toMillis(250)).toBe(250);
    expect(toMillis('250ms')).toBe(250);
    expect(toMillis('5s')).toBe(5_000);
    expect(toMillis('1.5s')).toBe(1_500);
    expect(toMillis('2m')).toBe(120_000);
    expect(toMillis('1h')).toBe(3_600_000);
  });

  it('rejects what is not a duration', () => {
    expect(() => toMillis(-1)).toThrow(RangeError);
    expect(() => toMillis(Number.NaN)).toThrow(RangeError);
    expect(() => toMillis('5 s' as never)).toThrow(/not a duration/);
    expect(() => toMillis('5d' as never)).toThrow(RangeError);
  });
});

describe('exponentialBackoff', () => {
  it('doubles from the initial delay up to the cap, without jitter', () => {
    const delay = exponentialBackoff({ initial: 100, max: 1_000, jitter: 0 });
    expect([1, 2, 3, 4, 5, 6, 100].map(delay)).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
  });

  it('keeps jittered delays within [base·(1−jitter), base]', () => {
    const low = exponentialBackoff({ initial: 100, max: 1_000, jitter: 0.5 }, () => 0.999_999);
    const high = exponentialBackoff({ initial: 100, max: 1_000, jitter: 0.5 }, () => 0);
    expect(low(3)).toBe(200);
    expect(high(3)).toBe(400);
    expect(low(50)).toBe(500);
  });

  it('rejects nonsense settings', () => {
    expect(() => exponentialBackoff({ factor: 0.5 })).toThrow(RangeError);
    expect(() => exponentialBackoff({ jitter: 2 })).toThrow(RangeError);
  });
});
