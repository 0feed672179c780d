import { describe, expect, it } from 'vitest';
import { LoginLimiter } from '@correio/identity';

describe('LoginLimiter', () => {
  it('refuses after maxFailures in the window until the oldest leaves it; success clears', () => {
    const limiter = new LoginLimiter({ maxFailures: 3, windowMs: 60_000 });
    const t0 = 1_000_000;
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfterMs('ana', t0 + i)).toBe(0);
      limiter.failed('ana', t0 + i);
    }
    expect(limiter.retryAfterMs('ana', t0 + 10)).toBe(60_000 - 10);
    expect(limiter.retryAfterMs('rui', t0 + 10)).toBe(0);
    expect(limiter.retryAfterMs('ana', t0 + 60_000)).toBe(0);
    limiter.failed('ana', t0 + 60_001);
    limiter.succeeded('ana');
    expect(limiter.retryAfterMs('ana', t0 + 60_002)).toBe(0);
  });

  it('tracks at most maxTracked users', () => {
    const limiter = new LoginLimiter({ maxFailures: 1, maxTracked: 100 });
    for (let i = 0; i < 1_000; i++) limiter.failed(`user-${i}`, 5);
    expect(limiter.retryAfterMs('user-999', 6)).toBeGreaterThan(0);
    expect(limiter.retryAfterMs('user-0', 6)).toBe(0); // forgotten
  });
});
