// Who acted as coordinator when: each server fixture prints an `act` line every 20 ms while its
// `isCoordinator` is true. Samples closer than `gapMs` merge into one interval.

export interface Act {
  readonly at: number;
}

export type Interval = readonly [start: number, end: number];

export const SAMPLE_MS = 20;

export function actingIntervals(acts: readonly Act[], gapMs = 150): Interval[] {
  const times = acts.map((act) => act.at).sort((a, b) => a - b);
  const intervals: [number, number][] = [];
  for (const at of times) {
    const last = intervals.at(-1);
    // A sample means acting until the next one is due.
    if (last && at - last[1] <= gapMs) last[1] = at + SAMPLE_MS;
    else intervals.push([at, at + SAMPLE_MS]);
  }
  return intervals;
}

/** The longest time two different servers acted at once. */
export function longestOverlap(byServer: ReadonlyMap<string, readonly Interval[]>): number {
  let longest = 0;
  const servers = [...byServer.keys()];
  for (let i = 0; i < servers.length; i++) {
    for (let j = i + 1; j < servers.length; j++) {
      for (const [a0, a1] of byServer.get(servers[i]!)!) {
        for (const [b0, b1] of byServer.get(servers[j]!)!) longest = Math.max(longest, Math.min(a1, b1) - Math.max(a0, b0));
      }
    }
  }
  return longest;
}
