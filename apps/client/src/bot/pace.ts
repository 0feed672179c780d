/** Why a paced loop stopped. */
export type StopReason = 'messages' | 'duration' | 'signal';

export interface PaceOptions {
  /** Iterations per second, over the whole loop. */
  readonly rate: number;
  /** Stop after this many iterations. */
  readonly limit?: number;
  /** Stop at this many ms after the start. */
  readonly durationMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * Runs `step(i)` at `rate` per second until `limit` iterations, `durationMs` or the signal,
 * whichever comes first; at least one of `limit` and `durationMs` is required, so the loop always
 * ends. Iteration i is due at start + i/rate: a loop that fell behind (a slow step, a coarse
 * timer) catches up by running due steps back to back, so the aggregate rate holds. `step` may
 * wait (for a free slot, say), which slows the loop down: backpressure wins over the target rate.
 */
export async function pace(options: PaceOptions, step: (index: number) => Promise<void>): Promise<{ readonly iterations: number; readonly stoppedBy: StopReason; readonly elapsedMs: number }> {
  const { rate, limit, durationMs, signal } = options;
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError('rate must be a positive number');
  if (limit === undefined && durationMs === undefined) throw new RangeError('give a limit or a duration: the loop must end');
  const start = performance.now();
  const interval = 1000 / rate;
  // Times are offsets from the start, in ms. The schedule moves forward (`shift`) when the loop fell
  // too far behind, so a stall is followed by at most MAX_LAG_MS worth of catch-up burst rather
  // than everything it missed.
  let shift = 0;
  let index = 0;
  // Steps due before the end, counted exactly rather than from float due times (100/s for 300 ms is 30).
  const stepsInDuration = durationMs === undefined ? Infinity : Math.ceil((rate * durationMs) / 1000 - 1e-9);
  const result = (stoppedBy: StopReason) => ({ iterations: index, stoppedBy, elapsedMs: performance.now() - start });
  for (;;) {
    if (signal?.aborted) return result('signal');
    if (limit !== undefined && index >= limit) return result('messages');
    const elapsed = performance.now() - start;
    let due = shift + index * interval;
    if (elapsed - due > MAX_LAG_MS) {
      shift += elapsed - due - MAX_LAG_MS;
      due = shift + index * interval;
    }
    if (durationMs !== undefined && (index >= stepsInDuration || due >= durationMs)) {
      // Wait out the rest of the duration, so the run lasts what was asked for (timers may fire a
      // millisecond early, hence the loop; time moves on, so it ends).
      for (let rest = durationMs - elapsed; rest > 0; rest = durationMs - (performance.now() - start)) {
        if (!(await sleep(Math.max(1, Math.ceil(rest)), signal))) return result('signal');
      }
      return result('duration');
    }
    if (due - elapsed > 1 && !(await sleep(due - elapsed, signal))) return result('signal');
    await step(index);
    index += 1;
  }
}

/** How far behind its schedule the loop may fall before it stops trying to catch up. */
const MAX_LAG_MS = 1_000;

/** Resolves true after `ms`, or false as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
