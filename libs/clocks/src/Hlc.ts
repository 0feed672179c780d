import { MAX_CLOCK_VALUE, MAX_HLC_LOGICAL, isClockInteger } from './limits.js';

/** A hybrid logical clock timestamp. */
export interface Hlc {
  /** Physical part: milliseconds since the Unix epoch, the largest physical time the clock has seen. */
  readonly wallMs: number;
  /** Logical part: orders events that share `wallMs`; 0 … 2^32 − 1. */
  readonly logical: number;
}

/** An HLC value as it travels: `[wall_ms, logical]` (protocol/ENCODING.md §4, `defs.json#/$defs/hlc`). */
export type HlcWire = [wallMs: number, logical: number];

/** Orders HLC values by `wallMs`, then `logical`: negative, zero or positive, as Array.prototype.sort expects. */
export function compareHlc(a: Hlc, b: Hlc): number {
  if (a.wallMs !== b.wallMs) return a.wallMs < b.wallMs ? -1 : 1;
  if (a.logical !== b.logical) return a.logical < b.logical ? -1 : 1;
  return 0;
}

/** The wire form of an HLC value. */
export function encodeHlc(hlc: Hlc): HlcWire {
  return [hlc.wallMs, hlc.logical];
}

/** Reads the wire form, throwing a TypeError for anything but an array of two integers in range. */
export function decodeHlc(wire: unknown): Hlc {
  if (!Array.isArray(wire) || wire.length !== 2 || !isClockInteger(wire[0], MAX_CLOCK_VALUE) || !isClockInteger(wire[1], MAX_HLC_LOGICAL)) {
    throw new TypeError(`not an HLC value [wall_ms, logical]: ${safeDescribe(wire)}`);
  }
  return { wallMs: wire[0], logical: wire[1] };
}

function safeDescribe(value: unknown): string {
  try {
    return JSON.stringify(value)?.slice(0, 100) ?? String(value);
  } catch {
    return typeof value;
  }
}
