import { performance } from 'node:perf_hooks';

/** One way of doing the same work: runs `count` operations per call. */
export type Variant = () => Promise<void>;

/** A scenario's variants, set up once and measured side by side. */
export interface Scenario<K extends string> {
  readonly variants: Record<K, Variant>;
  close(): Promise<void>;
}

/**
 * Measures every variant `repeats` times, interleaved (A B C, A B C, ...), and returns each one's
 * median rate in operations per second. Interleaving spreads drifting background load evenly
 * over the variants, so their ratio stays meaningful on a busy machine.
 */
export async function compare<K extends string>(scenario: Scenario<K>, count: number, repeats: number): Promise<Record<K, number>> {
  const names = Object.keys(scenario.variants) as K[];
  const rates = new Map<K, number[]>(names.map((name) => [name, []]));
  try {
    for (const name of names) await scenario.variants[name](); // warm-up: JIT, connections
    for (let round = 0; round < repeats; round += 1) {
      for (const name of names) {
        const start = performance.now();
        await scenario.variants[name]();
        rates.get(name)!.push((count * 1000) / (performance.now() - start));
      }
    }
  } finally {
    await scenario.close();
  }
  return Object.fromEntries(names.map((name) => [name, median(rates.get(name)!)])) as Record<K, number>;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Lets pending I/O callbacks run. */
export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
