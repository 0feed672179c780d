import { performance } from 'node:perf_hooks';
import type { TransportLogger } from './options.js';

/** The default gap between two warnings of one kind: a hostile flood costs one log line per kind per 10 s. */
export const WARNING_INTERVAL_MS = 10_000;

/**
 * Warnings about what peers send, at most one line per kind per interval. The line that ends a
 * quiet spell reports how many were suppressed before it, so nothing is hidden, only counted.
 * Kinds are a fixed set chosen by the caller (never peer-supplied), so the map stays that small.
 */
export class ThrottledWarnings<Kind extends string> {
  readonly #logger: TransportLogger | undefined;
  readonly #intervalMs: number;
  readonly #kinds = new Map<Kind, { at: number; suppressed: number }>();

  constructor(logger: TransportLogger | undefined, intervalMs = WARNING_INTERVAL_MS) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  warn(kind: Kind, details: object, message: string): void {
    if (this.#logger === undefined) return;
    const now = performance.now();
    const last = this.#kinds.get(kind);
    if (last !== undefined && now - last.at < this.#intervalMs) {
      last.suppressed++;
      return;
    }
    this.#logger.warn({ ...details, ...(last && last.suppressed > 0 ? { suppressed: last.suppressed } : {}) }, message);
    this.#kinds.set(kind, { at: now, suppressed: 0 });
  }
}

/** Bytes as text a log line can carry: printable ASCII kept, anything else as \xNN, cut to `max` bytes. */
export function printable(bytes: Buffer | undefined, max = 32): string {
  if (bytes === undefined) return '(none)';
  let text = '';
  for (const byte of bytes.subarray(0, max)) text += byte >= 0x20 && byte <= 0x7e && byte !== 0x5c ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  return bytes.length > max ? `${text}… (${bytes.length} bytes)` : text;
}
