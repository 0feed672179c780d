// What the orchestrator watches from outside while a run goes: CPU time and memory of every process
// (from /proc, Linux), and the servers' per-origin high-water marks (from /health), which give the
// replication lag in operations.
import { readdirSync, readFileSync } from 'node:fs';
import type { Process } from './topology.js';

const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux architecture Node supports

export interface ProcessSample {
  /** User + system CPU seconds so far. */
  readonly cpuSeconds: number;
  readonly rssBytes: number;
  /** Peak RSS so far. */
  readonly peakRssBytes: number;
  /** Context switches of all its threads so far (voluntary and not): each message between processes costs a few. */
  readonly contextSwitches: number;
}

export function sampleProcess(pid: number): ProcessSample | undefined {
  try {
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime, stime (fields 14, 15)
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
    return { cpuSeconds, rssBytes: kib('VmRSS'), peakRssBytes: kib('VmHWM'), contextSwitches: threadContextSwitches(pid) };
  } catch {
    return undefined; // exited
  }
}

/** Σ over the process's threads (Node's, libuv's, ZeroMQ's I/O thread, LMDB's writer) of their context switches. */
function threadContextSwitches(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      for (const match of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)/gm)) total += Number(match[1]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return total;
}

/** Busy and total CPU seconds of the whole machine so far (all cores), from /proc/stat. */
export function sampleMachine(): { busySeconds: number; totalSeconds: number } {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
  const ticks = fields.map(Number);
  const total = ticks.slice(0, 8).reduce((sum, n) => sum + n, 0); // user nice system idle iowait irq softirq steal
  const idle = ticks[3]! + ticks[4]!;
  return { busySeconds: (total - idle) / TICKS_PER_SECOND, totalSeconds: total / TICKS_PER_SECOND };
}

export interface ProcessFigures {
  /** CPU seconds per second over the window (share of one core). */
  readonly cpu: number;
  /** RSS at the window's end (NaN when not known). */
  readonly rssBytes: number;
}

export interface ProcessWindow {
  readonly seconds: number;
  /** Name → CPU share over the window and RSS at its end, of every process still running. */
  readonly processes: Map<string, ProcessFigures>;
  /** Context switches of all their threads over the window. */
  readonly switches: number;
  /** Cores the whole machine kept busy over the window (all users). */
  readonly machineBusy: number;
}

/** Starts watching `processes` by PID from /proc; `end()` closes the window. */
export function watchProcesses(processes: readonly Process[]): { end(): ProcessWindow } {
  const sampleAll = () => new Map(processes.map(({ name, peer }) => [name, sampleProcess(peer.process.pid!)]));
  const before = sampleAll();
  const machineBefore = sampleMachine();
  const started = performance.now();
  return {
    end() {
      const after = sampleAll();
      const machineAfter = sampleMachine();
      const seconds = (performance.now() - started) / 1_000;
      const figures = new Map<string, ProcessFigures>();
      let switches = 0;
      for (const [name, sample] of after) {
        const start = before.get(name);
        if (!sample || !start) continue;
        figures.set(name, { cpu: (sample.cpuSeconds - start.cpuSeconds) / seconds, rssBytes: sample.rssBytes });
        switches += sample.contextSwitches - start.contextSwitches;
      }
      return { seconds, processes: figures, switches, machineBusy: (machineAfter.busySeconds - machineBefore.busySeconds) / seconds };
    },
  };
}

/**
 * The window's processes plus those that report their own figures (load generators, subscriber),
 * and what the machine spent beyond all of them as "other" (the machine is shared): with the cores
 * all of ours used.
 */
export function withOwnReports(window: ProcessWindow, own: ReadonlyArray<[string, ProcessFigures]>): { processes: Map<string, ProcessFigures>; ours: number } {
  const processes = new Map([...window.processes, ...own]);
  const ours = [...processes.values()].reduce((sum, p) => sum + p.cpu, 0);
  processes.set('other (machine)', { cpu: Math.max(0, window.machineBusy - ours), rssBytes: Number.NaN });
  return { processes, ours };
}

/** Each process's CPU share over `ms` with no load (while `alongside` runs, e.g. the health polls of the runs): the floor every figure includes. */
export async function restingCpu(processes: readonly Process[], ms: number, alongside?: () => { stop(): Promise<unknown> }): Promise<Map<string, number>> {
  const window = watchProcesses(processes);
  const extra = alongside?.();
  await new Promise((resolve) => setTimeout(resolve, ms));
  await extra?.stop();
  return new Map([...window.end().processes].map(([name, { cpu }]) => [name, cpu]));
}

interface HealthDigest {
  readonly store: { readonly hwm: Record<string, number>; readonly ops: number; readonly hash: string };
}

async function digestOf(url: string): Promise<HealthDigest['store'] | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return ((await response.json()) as HealthDigest).store;
  } catch {
    return undefined;
  }
}

/**
 * Operations each server lacks that another holds, by contiguous high-water marks: Σ over
 * origins of (highest mark anywhere − this server's). The servers are read one after the other,
 * a few ms apart, so under load a reading carries a few operations of noise.
 */
export async function opsBehind(health: ReadonlyMap<string, string>): Promise<number[] | undefined> {
  const digests = await Promise.all([...health.values()].map(digestOf));
  if (digests.some((d) => d === undefined)) return undefined;
  const origins = new Set(digests.flatMap((d) => Object.keys(d!.hwm)));
  return digests.map((d) => {
    let behind = 0;
    for (const origin of origins) behind += Math.max(...digests.map((o) => o!.hwm[origin] ?? 0)) - (d!.hwm[origin] ?? 0);
    return behind;
  });
}

/** Resolves with the ms until every server reports the same digest (hash and count), or undefined after `timeoutMs`. */
export async function untilConverged(health: ReadonlyMap<string, string>, timeoutMs: number): Promise<number | undefined> {
  const started = performance.now();
  for (let round = 0; round < 100_000 && performance.now() - started < timeoutMs; round++) {
    const digests = await Promise.all([...health.values()].map(digestOf));
    const first = digests[0];
    if (first && digests.every((d) => d !== undefined && d.hash === first.hash && d.ops === first.ops)) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return undefined;
}

/** Polls `opsBehind` every `periodMs` until stopped; keeps every reading of every server. */
export function lagSampler(health: ReadonlyMap<string, string>, periodMs: number): { stop(): Promise<number[]> } {
  const readings: number[] = [];
  let running = true;
  const loop = (async () => {
    for (let round = 0; running && round < 1_000_000; round++) {
      const behind = await opsBehind(health);
      if (behind) readings.push(...behind);
      await new Promise((resolve) => setTimeout(resolve, periodMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return readings;
    },
  };
}
