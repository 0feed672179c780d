// The closed loop both end-to-end loads run: each client keeps one write in flight, through a
// warm-up and then a measured window; then each finishes the write it has in flight.

export interface ClosedLoopOptions {
  readonly clients: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** How long the clients may take to finish their last writes (their attempts' timeouts). */
  readonly drainMs: number;
  /** One write of client `client`, its `i`-th: resolves true once acknowledged, false when it failed. */
  readonly write: (client: number, i: number) => Promise<boolean>;
}

export class ClosedLoop {
  /** True during the measured window: a write acknowledged now counts, and its latency too. */
  measuring = false;

  /** Acknowledged writes within the window, all of them, and the window's length. */
  async run({ clients, warmupMs, durationMs, drainMs, write }: ClosedLoopOptions): Promise<{ acks: number; total: number; seconds: number }> {
    let stopping = false;
    let acks = 0;
    let total = 0;
    const running = Array.from({ length: clients }, async (_, client) => {
      for (let i = 0; !stopping && i < 100_000_000; i++) {
        if (!(await write(client, i))) continue;
        total++;
        if (this.measuring) acks++;
      }
    });
    await new Promise((resolve) => setTimeout(resolve, warmupMs));
    this.measuring = true;
    const from = performance.now();
    await new Promise((resolve) => setTimeout(resolve, durationMs));
    this.measuring = false;
    const seconds = (performance.now() - from) / 1_000;
    stopping = true;
    await Promise.race([Promise.all(running), new Promise((resolve) => setTimeout(resolve, drainMs))]);
    return { acks, total, seconds };
  }
}
