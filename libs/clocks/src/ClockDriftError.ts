import type { Hlc } from './Hlc.js';

/**
 * A remote HLC timestamp is further ahead of the local physical clock than `maxOffsetMs`, or its
 * logical part is above MAX_RECEIVED_HLC_LOGICAL: accepting it would drag this clock (and everything
 * it stamps afterwards) into the future or to the end of its logical range. The clock is unchanged.
 *
 * Shaped like a protocol error (`code`, `retryable`, `data`) so a service can answer the offending
 * message with `BAD_REQUEST` as it is; this library depends on no other Correio library, so it is not
 * a `CorreioError` itself.
 */
export class ClockDriftError extends Error {
  override name = 'ClockDriftError';
  readonly code = 'BAD_REQUEST';
  readonly retryable = false;
  readonly data: { readonly remote: [number, number]; readonly physical_ms: number; readonly max_offset_ms: number; readonly max_logical?: number };

  /** With `maxLogical`, the wall time was fine but the logical part was above it (ENCODING.md §4.1). */
  constructor(remote: Hlc, physicalMs: number, maxOffsetMs: number, maxLogical?: number) {
    super(
      maxLogical === undefined
        ? `remote clock ${remote.wallMs - physicalMs} ms ahead of the local physical clock (limit ${maxOffsetMs} ms)`
        : `remote HLC logical part ${remote.logical} is above ${maxLogical}: no honest clock counts that many events in one ms`,
    );
    this.data = { remote: [remote.wallMs, remote.logical], physical_ms: physicalMs, max_offset_ms: maxOffsetMs, ...(maxLogical === undefined ? {} : { max_logical: maxLogical }) };
  }

  /** How far ahead the remote clock was, in ms. */
  get aheadMs(): number {
    return this.data.remote[0] - this.data.physical_ms;
  }
}
