// LamportBounds with a real monotonic clock: performance.now() reads fractional milliseconds, so
// the budget refills by fractions; every value it lets a clock reach must still be an integer
// (a fractional Lamport value cannot be encoded, so every reply and heartbeat would fail).
import { describe, expect, it } from 'vitest';
import { LamportBounds, mergeLamport } from '@correio/protocol';

describe('LamportBounds under a fractional clock', () => {
  it('limits and merges to integers only, after the budget was spent and refilled by fractions', () => {
    let ms = 1_000.123;
    const bounds = new LamportBounds({ freeJump: 100, maxJump: 10_000, refillPerSecond: 2 ** 20, now: () => ms });
    let local = 5;
    local = mergeLamport(bounds, local, Number.MAX_SAFE_INTEGER - 1); // spends the whole budget
    expect(Number.isSafeInteger(local)).toBe(true);
    for (let step = 0; step < 50; step++) {
      ms += 0.377; // a refill of 395.3… values
      expect(Number.isSafeInteger(bounds.limit(local))).toBe(true);
      local = mergeLamport(bounds, local, Number.MAX_SAFE_INTEGER - 1);
      expect(Number.isSafeInteger(local)).toBe(true);
    }
    expect(local).toBeGreaterThan(10_000); // the refills did add up
  });
});
