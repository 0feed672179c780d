// CPU time, not wall time: what an operation costs, whatever else the machine is doing.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's times (`getconf CLK_TCK`; 100 on Linux almost everywhere). */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system, every thread) process `pid` has used so far, from /proc/<pid>/stat (Linux). */
export function processCpuSeconds(pid: number): number {
  return statCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** CPU ms each thread of process `pid` has used so far, by thread name (the main thread as "main"; same-named threads summed). */
export function threadCpuMs(pid: number): Map<string, number> {
  const byThread = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = tid === String(pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      byThread.set(name, (byThread.get(name) ?? 0) + statCpuSeconds(stat) * 1000);
    } catch {
      // the thread ended meanwhile
    }
  }
  return byThread;
}

/** utime + stime of a /proc stat line, in seconds. */
function statCpuSeconds(stat: string): number {
  // The command name (field 2) may hold spaces: count from the parenthesis that closes it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime and stime, fields 14 and 15
}

/** CPU seconds this process has used so far (every thread: autocannon and clients run here). */
export function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** Starts a CPU-time meter over `pids` and this process; `stop()` returns the seconds used by each side since. */
export function cpuMeter(pids: readonly number[]): { stop(): { processes: number; own: number } } {
  const sum = () => pids.reduce((total, pid) => total + processCpuSeconds(pid), 0);
  const [processes, own] = [sum(), ownCpuSeconds()];
  return { stop: () => ({ processes: sum() - processes, own: ownCpuSeconds() - own }) };
}
