const LEVELS: Readonly<Record<number, { name: string; color: number }>> = {
  10: { name: 'TRACE', color: 90 },
  20: { name: 'DEBUG', color: 90 },
  30: { name: 'INFO', color: 32 },
  40: { name: 'WARN', color: 33 },
  50: { name: 'ERROR', color: 31 },
  60: { name: 'FATAL', color: 41 },
};

/** Fields every pino line carries that the prefix and the level already say. */
const REDUNDANT = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'v']);

/**
 * Shortens a pino JSON line for people: `WARN server down server=srv-2 rank=2`; an error shows
 * its message, not its stack. Anything that is not a pino line is returned unchanged.
 */
export function formatLogLine(text: string, color: boolean): string {
  if (!text.startsWith('{')) return text;
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return text;
  }
  if (typeof record['level'] !== 'number') return text;
  const level = LEVELS[record['level']] ?? { name: `L${record['level']}`, color: 0 };
  const parts = [color ? `\x1b[${level.color}m${level.name}\x1b[0m` : level.name];
  if (typeof record['msg'] === 'string') parts.push(record['msg']);
  for (const [key, value] of Object.entries(record)) {
    if (REDUNDANT.has(key) || value === undefined) continue;
    parts.push(`${key}=${brief(value)}`);
  }
  return parts.join(' ');
}

function brief(value: unknown): string {
  if (typeof value === 'string') return /\s/.test(value) ? JSON.stringify(value) : value;
  if (value && typeof value === 'object' && typeof (value as { message?: unknown }).message === 'string') {
    const error = value as { type?: unknown; message: string; code?: unknown };
    return JSON.stringify(`${typeof error.code === 'string' ? `${error.code}: ` : ''}${error.message}`);
  }
  const text = JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
