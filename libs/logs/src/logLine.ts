import type { LogLine } from '@correio/protocol';

/** pino's level numbers by name (protocol defs.json logLevel). */
export const LEVEL_NUMBERS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
export type LevelName = keyof typeof LEVEL_NUMBERS;

const LEVEL_NAMES = new Map<number, LevelName>(Object.entries(LEVEL_NUMBERS).map(([name, level]) => [level, name as LevelName]));

/** The name of a pino level number (`info` for a number pino does not use). */
export function levelName(level: number): LevelName {
  return LEVEL_NAMES.get(level) ?? 'info';
}

/** Characters of `msg` and of `fields` a line keeps (the protocol's maxLength; one code point is at most two). */
const MAX_TEXT = 4000;
/** Fields every line of a process repeats, or that the line's own columns hold. */
const OMITTED = new Set(['time', 'level', 'msg', 'pid', 'hostname', 'v', 'rid', 'reqId']);
const REQUEST_ID = /^[\x21-\x7e]{1,64}$/;

/**
 * The shipped form of one line a pino logger wrote: its time, level, message and request id (the
 * envelope id `rid`, else the gateway's `reqId`) in columns, the other fields as JSON text. Never
 * throws: a line that is not pino's JSON is shipped as its text, at info.
 */
export function toLogLine(text: string, seq: number, now = Date.now()): LogLine {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { seq, at: now, level: 30, msg: clip(text.trimEnd()) };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { seq, at: now, level: 30, msg: clip(text.trimEnd()) };
  const record = parsed as Record<string, unknown>;
  const at = typeof record['time'] === 'number' ? record['time'] : typeof record['time'] === 'string' ? Date.parse(record['time']) : Number.NaN;
  const level = typeof record['level'] === 'number' && LEVEL_NAMES.has(record['level']) ? record['level'] : 30;
  const requestId = [record['rid'], record['reqId']].find((id): id is string => typeof id === 'string' && REQUEST_ID.test(id));
  // No prototype: a hostile `__proto__` field is kept as a field, never as the object's prototype.
  const rest: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  let hasRest = false;
  for (const key of Object.keys(record)) {
    if (OMITTED.has(key)) continue;
    rest[key] = record[key];
    hasRest = true;
  }
  return {
    seq,
    at: Number.isSafeInteger(at) && at >= 0 ? at : now,
    level: level as LogLine['level'],
    msg: typeof record['msg'] === 'string' ? clip(record['msg']) : '',
    ...(requestId === undefined ? {} : { request_id: requestId }),
    ...(hasRest ? { fields: fieldsText(rest) } : {}),
  };
}

function clip(text: string): string {
  return text.length <= MAX_TEXT ? text : text.slice(0, MAX_TEXT);
}

/** The fields as JSON; too long, their start as `text` beside `truncated: true` (still a JSON object). */
function fieldsText(fields: Record<string, unknown>): string {
  const text = JSON.stringify(fields);
  if (text.length <= MAX_TEXT) return text;
  // Escaping can lengthen the text up to six times: halve the cut until it fits (at most 12 rounds).
  for (let cut = MAX_TEXT - 50; cut > 0; cut = Math.floor(cut / 2)) {
    const clipped = JSON.stringify({ truncated: true, text: text.slice(0, cut) });
    if (clipped.length <= MAX_TEXT) return clipped;
  }
  return '{"truncated":true}';
}
