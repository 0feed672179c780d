/** Percentiles of a set of latencies, in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/**
 * Records latencies and reports percentiles. Up to `capacity` samples are kept exactly; past that
 * a uniform reservoir sample (Vitter's algorithm R) of `capacity` stands for them, so memory stays
 * bounded in a long run while the percentiles stay unbiased. Count, max and mean are always exact.
 */
export class LatencyRecorder {
  readonly #capacity: number;
  readonly #samples: number[] = [];
  readonly #random: () => number;
  #count = 0;
  #sum = 0;
  #max = 0;

  constructor(capacity = 100_000, random: () => number = Math.random) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.#capacity = capacity;
    this.#random = random;
  }

  get count(): number {
    return this.#count;
  }

  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.#count += 1;
    this.#sum += ms;
    if (ms > this.#max) this.#max = ms;
    if (this.#samples.length < this.#capacity) {
      this.#samples.push(ms);
      return;
    }
    const slot = Math.floor(this.#random() * this.#count);
    if (slot < this.#capacity) this.#samples[slot] = ms;
  }

  /** Undefined before the first sample. */
  summary(): LatencySummary | undefined {
    if (this.#count === 0) return undefined;
    const sorted = Float64Array.from(this.#samples).sort();
    return { count: this.#count, p50: nearestRank(sorted, 0.5), p99: nearestRank(sorted, 0.99), max: this.#max, mean: this.#sum / this.#count };
  }
}

/** The nearest-rank percentile: the smallest sample at or above fraction `p` of the samples. */
function nearestRank(sorted: Float64Array, p: number): number {
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[rank - 1]!;
}
