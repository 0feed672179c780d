/** What a `bench` command of SERVICE-DRIVER.md prints: calls made, failures, wall time and latency percentiles. */
export interface CallLatencies {
  readonly count: number;
  readonly errors: number;
  readonly seconds: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
}

/**
 * Makes `count` calls with at most `inflight` at once (each of `inflight` loops starts its next call
 * when its last one ends) and times each; failures are counted, not timed.
 */
export async function callLatencies(call: (params: unknown) => Promise<unknown>, params: unknown, count: number, inflight: number): Promise<CallLatencies> {
  if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(inflight) || inflight < 1) {
    throw new RangeError('bench needs a whole count and inflight of at least 1');
  }
  const latencies: number[] = [];
  let started = 0;
  let errors = 0;
  const loop = async () => {
    while (started < count) {
      started += 1;
      const begin = performance.now();
      try {
        await call(params);
        latencies.push(performance.now() - begin);
      } catch {
        errors += 1;
      }
    }
  };
  const begin = performance.now();
  await Promise.all(Array.from({ length: Math.min(inflight, count) }, loop));
  const seconds = (performance.now() - begin) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (p: number) => (latencies.length === 0 ? Number.NaN : latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)]!);
  return { count, errors, seconds, p50_ms: at(0.5), p99_ms: at(0.99) };
}
