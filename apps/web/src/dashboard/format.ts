// Numbers of the dashboard as people read them. The protocol has no floats: units are in the field names.

/** A count over `intervalMs` as a rate per second; undefined without an interval. */
export function perSecond(delta: number | undefined, intervalMs: number): number | undefined {
  if (delta === undefined || intervalMs <= 0) return undefined;
  return (delta * 1000) / intervalMs;
}

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return '–';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/** A duration in ms as "2 h 5 min", "3 min 12 s" or "42 s". */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return '–';
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86_400)} d ${Math.floor((seconds % 86_400) / 3600)} h`;
}

/** Microseconds as ms with enough digits to see a Berkeley round's corrections. */
export function formatMicros(us: number | undefined): string {
  if (us === undefined) return '–';
  return Math.abs(us) < 10_000 ? `${(us / 1000).toFixed(2)} ms` : `${(us / 1000).toFixed(0)} ms`;
}

/** CPU in thousandths of a core as a percentage of one core. */
export function formatCpu(permille: number | undefined): string {
  return permille === undefined ? '–' : `${(permille / 10).toFixed(1)} %`;
}

/** A plain number with at most `digits` decimals. */
export function formatNumber(value: number | undefined, digits = 1): string {
  if (value === undefined) return '–';
  return Number.isInteger(value) ? String(value) : value.toFixed(digits);
}

export function formatTime(ms: number | undefined): string {
  return ms === undefined ? '–' : new Date(ms).toLocaleTimeString(undefined, { hour12: false });
}

/** A time of day to the millisecond, for log lines. */
export function formatClock(ms: number): string {
  return `${formatTime(ms)}.${String(ms % 1000).padStart(3, '0')}`;
}
