import { describe, expect, it } from 'vitest';
import { parseRate, TokenBucket } from '../src/index.js';

describe('rates', () => {
  it('parses count/unit, and refuses anything else with the expected form', () => {
    expect(parseRate('10/s')).toEqual({ count: 10, perMs: 1_000 });
    expect(parseRate(' 100/m ')).toEqual({ count: 100, perMs: 60_000 });
    expect(parseRate('5/h')).toEqual({ count: 5, perMs: 3_600_000 });
    for (const bad of ['0/s', '10', '10/d', '-1/s', '1.5/s', '10/s/s', '', '9999999999/s']) expect(() => parseRate(bad), bad).toThrow(/expected <count>\/<s\|m\|h>/);
  });

  it('gives a burst up to the count, then refills evenly, never above the count', () => {
    let now = 0;
    const bucket = new TokenBucket({ count: 4, perMs: 1_000 }, () => now);
    expect(bucket.take(10)).toBe(4);
    expect(bucket.take(1)).toBe(0);
    expect(bucket.waitMs()).toBe(250);
    now = 500;
    expect(bucket.available).toBe(2);
    expect(bucket.take(3)).toBe(2);
    now = 100_000;
    expect(bucket.available).toBe(4);
    expect(bucket.waitMs()).toBe(0);
  });
});
