import { readFileSync } from 'node:fs';

/** A process's resident set size in KiB (VmRSS of /proc/<pid>/status; Linux only), or undefined once it is gone. */
export function residentKiB(pid: number): number | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return match ? Number(match[1]) : undefined;
}

/** Samples the RSS of some processes every `everyMs` and keeps the peak of each. */
export class RssPeaks {
  readonly peakKiB = new Map<string, number>();
  readonly #timer: NodeJS.Timeout;

  constructor(
    readonly pids: ReadonlyMap<string, number>,
    everyMs = 500,
  ) {
    this.#timer = setInterval(() => this.sample(), everyMs);
    this.sample();
  }

  /** The RSS of every process now (a process that is gone is left out). */
  sample(): Map<string, number> {
    const now = new Map<string, number>();
    for (const [name, pid] of this.pids) {
      const kib = residentKiB(pid);
      if (kib === undefined) continue;
      now.set(name, kib);
      this.peakKiB.set(name, Math.max(kib, this.peakKiB.get(name) ?? 0));
    }
    return now;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
