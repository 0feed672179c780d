import { performance } from 'node:perf_hooks';

/**
 * Milliseconds on a clock that never steps: leases, deadlines and heartbeat periods are durations,
 * and a wall clock that NTP or an operator moves would stretch or shrink them.
 */
export function monotonicNow(): number {
  return performance.timeOrigin + performance.now();
}
