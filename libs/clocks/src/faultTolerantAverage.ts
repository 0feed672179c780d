/** One clock's estimated offset from the coordinator, as the average sees it. */
export interface OffsetSample {
  readonly offsetMs: number;
  /** True for the coordinator itself, offset 0 by definition. */
  readonly isReference: boolean;
}

export interface FaultTolerantAverage {
  readonly medianMs: number;
  readonly averageMs: number;
  /** For each sample, in order: whether it counted in the average (false: an outlier). */
  readonly included: readonly boolean[];
}

/**
 * The mean of the samples within `maxDeviationMs` of their median. The median makes the choice
 * robust to a minority of wild clocks (fewer than half of the samples). When no sample is within the
 * bound (two clocks far apart, or no majority at all) nothing says who is right, and the reference
 * (the coordinator) alone defines the average.
 */
export function faultTolerantAverage(samples: readonly OffsetSample[], maxDeviationMs: number): FaultTolerantAverage {
  const sorted = samples.map((sample) => sample.offsetMs).sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const medianMs = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;

  let included = samples.map((sample) => Math.abs(sample.offsetMs - medianMs) <= maxDeviationMs);
  if (!included.includes(true)) included = samples.map((sample) => sample.isReference);

  let sum = 0;
  let count = 0;
  samples.forEach((sample, index) => {
    if (included[index]) {
      sum += sample.offsetMs;
      count += 1;
    }
  });
  return { medianMs, averageMs: count === 0 ? 0 : sum / count, included };
}
