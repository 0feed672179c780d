// A bounded window of named time series, one point per snapshot: what a chart draws. Series appear
// when a snapshot first names them (earlier points are gaps) and are dropped once the window holds
// no value of theirs any more (a process gone for the whole window).

/** One value per series name; undefined or absent: no value this time (a gap). */
export type Sample = Readonly<Record<string, number | undefined>>;

/** uPlot's aligned data: the times (s), then one array per series. */
export type AlignedData = [number[], ...(number | null)[][]];

/** Points kept per series: five minutes at one snapshot a second. */
export const HISTORY_POINTS = 300;

export class SeriesHistory {
  private readonly times: number[] = [];
  private readonly values = new Map<string, (number | null)[]>();

  constructor(private readonly capacity = HISTORY_POINTS) {}

  /** Adds one point at `timeMs` (the snapshot's time). */
  push(timeMs: number, sample: Sample): void {
    this.times.push(timeMs / 1000);
    for (const [name, value] of Object.entries(sample)) {
      if (value !== undefined && !this.values.has(name)) this.values.set(name, new Array<number | null>(this.times.length - 1).fill(null));
    }
    for (const [name, series] of this.values) series.push(sample[name] ?? null);
    if (this.times.length <= this.capacity) return;
    this.times.shift();
    for (const [name, series] of this.values) {
      series.shift();
      if (series.every((value) => value === null)) this.values.delete(name);
    }
  }

  /** The series names, sorted, so colours stay put as series come and go. */
  names(): string[] {
    return [...this.values.keys()].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  }

  /** The newest value of a series, undefined when the last point is a gap. */
  latest(name: string): number | undefined {
    return this.values.get(name)?.at(-1) ?? undefined;
  }

  /** The highest value of a series in the window, undefined when it has none. */
  peak(name: string): number | undefined {
    let peak: number | undefined;
    for (const value of this.values.get(name) ?? []) if (value !== null && (peak === undefined || value > peak)) peak = value;
    return peak;
  }

  get length(): number {
    return this.times.length;
  }

  /** Copies for uPlot (it keeps references to the arrays it draws). */
  aligned(names: readonly string[]): AlignedData {
    return [this.times.slice(), ...names.map((name) => (this.values.get(name) ?? []).slice())];
  }
}
