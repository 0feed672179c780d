/** A duration: milliseconds as a number, or a string such as `250ms`, `5s`, `2m`, `1h`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h'}`;

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/** Milliseconds of a Duration; throws RangeError on anything that is not a finite, non-negative duration. */
export function toMillis(duration: Duration, what = 'duration'): number {
  if (typeof duration === 'number') {
    if (!Number.isFinite(duration) || duration < 0) throw new RangeError(`${what} must be a non-negative number of milliseconds, got ${duration}`);
    return duration;
  }
  const match = DURATION.exec(duration);
  if (!match) throw new RangeError(`${what} ${JSON.stringify(duration)} is not a duration such as "250ms", "5s", "2m" or "1h"`);
  return Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]);
}
