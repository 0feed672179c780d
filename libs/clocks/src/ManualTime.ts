import type { TimeSource } from './TimeSource.js';

/** A clock that moves only when told to: the "true time" of a simulation, or a fixed clock in a test. */
export class ManualTime implements TimeSource {
  #nowMs: number;

  constructor(startMs = 0) {
    this.#nowMs = requireInteger(startMs, 'startMs');
  }

  now(): number {
    return this.#nowMs;
  }

  /** Moves the clock forward by `ms` (≥ 0). */
  advance(ms: number): number {
    if (requireInteger(ms, 'ms') < 0) throw new RangeError(`advance() takes a non-negative duration, got ${ms}`);
    this.#nowMs += ms;
    return this.#nowMs;
  }

  /** Sets the clock, backwards too, to simulate an operating-system clock being stepped. */
  set(ms: number): void {
    this.#nowMs = requireInteger(ms, 'ms');
  }
}

function requireInteger(value: number, what: string): number {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${what} must be an integer number of milliseconds, got ${value}`);
  return value;
}
