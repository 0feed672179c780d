/**
 * A physical clock: `now()` returns integer milliseconds since the Unix epoch (protocol/ENCODING.md §4).
 * Clocks in this library read time only through this interface, so tests can give every simulated
 * process its own skew and drift.
 */
export interface TimeSource {
  now(): number;
}

/** The operating system's clock. It may step backwards (NTP, an operator); wrap it in SynchronizedTime for a clock that never does. */
export const systemTime: TimeSource = { now: () => Date.now() };
