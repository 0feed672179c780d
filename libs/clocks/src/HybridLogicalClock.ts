import { ClockDriftError } from './ClockDriftError.js';
import { MAX_CLOCK_VALUE, MAX_HLC_LOGICAL, MAX_RECEIVED_HLC_LOGICAL, requireClockInteger } from './limits.js';
import type { Hlc } from './Hlc.js';
import type { TimeSource } from './TimeSource.js';

export interface HybridLogicalClockOptions {
  /** The physical clock: a SynchronizedTime, so Berkeley adjustments reach the HLC too. */
  readonly time: TimeSource;
  /**
   * `update()` rejects a remote timestamp whose `wallMs` is more than this many ms ahead of the
   * local physical clock, with a ClockDriftError. Default 60 000. `Infinity` disables the guard.
   */
  readonly maxOffsetMs?: number;
}

/**
 * A hybrid logical clock (Kulkarni, Demirbas et al., "Logical Physical Clocks", 2014).
 *
 * - `now()` for a send or local event, `update(remote)` for a receive; both return the new timestamp.
 * - Timestamps issued by one clock strictly increase, and if e happened before f then hlc(e) < hlc(f).
 * - `wallMs` is always the largest physical time seen (locally, or in an accepted remote timestamp),
 *   so it never runs ahead of the local physical clock by more than `maxOffsetMs`.
 * - A received logical part above 2^31 − 1 is refused like a wall time too far ahead (ClockDriftError),
 *   so no peer can push this clock to the end of its logical range (protocol/ENCODING.md §4.1).
 * - `logical` counts events that share one `wallMs`: it resets whenever physical time passes `wallMs`,
 *   stays below N·(ε+2) for N processes whose clocks are at most ε ms apart and that each record at
 *   most one event per ms (the paper's N·(ε+1), plus 1 for whole-ms clock readings). A RangeError is
 *   thrown rather than let it pass 2^32 − 1 (a physical clock stuck for billions of events).
 *
 * The clock is not persisted. A restarted clock stays above its predecessor's timestamps if its
 * physical clock has meanwhile passed the predecessor's last `wallMs`, that is, if the restart took
 * longer than `maxOffsetMs` on a clock that did not step back.
 */
export class HybridLogicalClock {
  readonly #time: TimeSource;
  readonly #maxOffsetMs: number;
  #wallMs = 0;
  #logical = 0;

  constructor(options: HybridLogicalClockOptions) {
    this.#time = options.time;
    this.#maxOffsetMs = options.maxOffsetMs ?? 60_000;
    if (!(this.#maxOffsetMs >= 0)) throw new RangeError(`maxOffsetMs must be ≥ 0, got ${this.#maxOffsetMs}`);
  }

  /** The latest timestamp issued ({0, 0} before the first). */
  get last(): Hlc {
    return { wallMs: this.#wallMs, logical: this.#logical };
  }

  /** Timestamps a send or local event. */
  now(): Hlc {
    const physical = this.#physicalNow();
    if (physical > this.#wallMs) return this.#set(physical, 0);
    return this.#set(this.#wallMs, this.#logical + 1);
  }

  /** Merges a received timestamp and timestamps the receive event, which is greater than both. */
  update(remote: Hlc): Hlc {
    requireClockInteger(remote.wallMs, 'a remote HLC wall time');
    requireClockInteger(remote.logical, 'a remote HLC logical part', MAX_HLC_LOGICAL);
    const physical = this.#physicalNow();
    if (remote.wallMs - physical > this.#maxOffsetMs) throw new ClockDriftError(remote, physical, this.#maxOffsetMs);
    if (remote.logical > MAX_RECEIVED_HLC_LOGICAL) throw new ClockDriftError(remote, physical, this.#maxOffsetMs, MAX_RECEIVED_HLC_LOGICAL);

    const wallMs = Math.max(this.#wallMs, remote.wallMs, physical);
    if (wallMs === this.#wallMs && wallMs === remote.wallMs) return this.#set(wallMs, Math.max(this.#logical, remote.logical) + 1);
    if (wallMs === this.#wallMs) return this.#set(wallMs, this.#logical + 1);
    if (wallMs === remote.wallMs) return this.#set(wallMs, remote.logical + 1);
    return this.#set(wallMs, 0);
  }

  /**
   * Resumes past a timestamp this process trusts (the newest in its own store): like update(), and
   * with the same wall-time check, but a logical part above MAX_RECEIVED_HLC_LOGICAL (written by an
   * older version) carries into the wall time, `(wallMs + 1, 0)`, which still sorts after it.
   */
  resume(stored: Hlc): Hlc {
    if (stored.logical <= MAX_RECEIVED_HLC_LOGICAL) return this.update(stored);
    requireClockInteger(stored.wallMs, 'a stored HLC wall time', MAX_CLOCK_VALUE - 1);
    return this.update({ wallMs: stored.wallMs + 1, logical: 0 });
  }

  #physicalNow(): number {
    return requireClockInteger(this.#time.now(), 'the physical time', MAX_CLOCK_VALUE);
  }

  #set(wallMs: number, logical: number): Hlc {
    if (logical > MAX_HLC_LOGICAL) {
      throw new RangeError(`the HLC logical part would exceed 2^32 − 1 at wall time ${wallMs}: is the physical clock stuck?`);
    }
    this.#wallMs = wallMs;
    this.#logical = logical;
    return { wallMs, logical };
  }
}
