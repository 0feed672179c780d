import { SynchronizedTime, skewedTime, type TimeSource } from '@correio/clocks';

/**
 * A clock error injected on purpose, to test and demonstrate clock synchronisation on one machine
 * (`--clock-skew-ms`, `--clock-drift-ppm`). Never set it in production: it makes this server's
 * clock wrong on purpose.
 */
export interface InjectedClockError {
  /** How far ahead of the real clock this server's clock starts (negative: behind), ms. */
  readonly skewMs?: number;
  /** How fast it gains on the real clock (negative: loses), parts per million; quartz is about ±100. */
  readonly driftPpm?: number;
}

/**
 * The server's physical clock: the base clock (the system's, or one given for tests), skewed when
 * asked to, under a SynchronizedTime that Berkeley adjustments slew (it never goes backwards, not
 * even when the system clock steps back). The envelope `ts` of everything the server sends, the HLC
 * of its operations and the Berkeley readings all come from this one clock.
 */
export function clusterTime(base: TimeSource, injected: InjectedClockError = {}): SynchronizedTime {
  const skewMs = injected.skewMs ?? 0;
  const driftPpm = injected.driftPpm ?? 0;
  const physical = skewMs === 0 && driftPpm === 0 ? base : skewedTime({ base, offsetMs: skewMs, driftPpm });
  return new SynchronizedTime(physical);
}
