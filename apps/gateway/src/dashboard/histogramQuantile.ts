/** One cumulative bucket of a Prometheus histogram: observations at most `le`. */
export interface Bucket {
  readonly le: number;
  readonly count: number;
}

/**
 * The `q`-quantile (0 < q ≤ 1) of the observations in cumulative `buckets`, interpolated linearly
 * inside the bucket it falls in, as Prometheus's histogram_quantile does; in the +Inf bucket it is
 * the largest finite bound. Undefined with no observations.
 */
export function histogramQuantile(q: number, buckets: readonly Bucket[]): number | undefined {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const observations = sorted.at(-1)?.count ?? 0;
  if (!(observations > 0)) return undefined;
  const rank = q * observations;
  let lower = 0;
  let below = 0;
  for (const { le, count } of sorted) {
    if (count >= rank) {
      if (le === Infinity) return lower;
      return count === below ? le : lower + ((le - lower) * (rank - below)) / (count - below);
    }
    lower = le;
    below = count;
  }
  return lower;
}

/**
 * Cumulative bucket counts over an interval: `now` minus `before`, bucket by bucket. A count that
 * went down means the process restarted: then everything it counted since is the interval's.
 */
export function bucketDeltas(now: readonly Bucket[], before: readonly Bucket[] | undefined): Bucket[] {
  const previous = new Map((before ?? []).map((bucket) => [bucket.le, bucket.count]));
  const restarted = now.some((bucket) => bucket.count < (previous.get(bucket.le) ?? 0));
  return now.map(({ le, count }) => ({ le, count: restarted ? count : count - (previous.get(le) ?? 0) }));
}

/** A counter's increase over an interval; a counter that went down restarted from zero. */
export function counterDelta(now: number | undefined, before: number | undefined): number {
  if (now === undefined) return 0;
  if (before === undefined || now < before) return Math.round(now);
  return Math.round(now - before);
}
