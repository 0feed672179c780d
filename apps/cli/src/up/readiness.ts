/** What a component says about itself once it serves. */
export interface Readiness {
  /** The whole line, as printed. */
  readonly line: string;
  /** `key=value` pairs of the line (`http`, `publishers`, `subscribers`, `data`, …). */
  readonly fields: Readonly<Record<string, string>>;
  /** The first word after `ready` when it is not a `key=value` pair (the broker's endpoint, an id). */
  readonly subject?: string;
}

/** How to recognise that a component is ready, and on which of its streams. */
export interface ReadinessProbe {
  readonly stream: 'stdout' | 'stderr';
  readonly pattern: RegExp;
}

/**
 * The readiness lines of the Correio programs (each prints exactly one, on stdout, when it
 * serves): `broker ready tcp://… http=…`, `proxy ready publishers=… subscribers=…`,
 * `ref ready <id> data=… next-rank=…`, `server ready <id> broker=… data=… ops=…`.
 */
export function programReady(program: string): ReadinessProbe {
  return { stream: 'stdout', pattern: new RegExp(`^${program} ready\\b`) };
}

/**
 * A traffic bot has no readiness line of its own; it is ready once setup is done and it starts
 * sending, which it reports on stderr as `bot: <n> user(s) in <k> channel(s); sending …`.
 */
export const BOT_READY: ReadinessProbe = { stream: 'stderr', pattern: /^bot: \d+ user\(s\) in \d+ channel\(s\); sending\b/ };

/** Splits a readiness line into its subject and `key=value` fields. */
export function parseReadiness(line: string): Readiness {
  const words = line.trim().split(/\s+/);
  const at = words.indexOf('ready');
  const rest = at >= 0 ? words.slice(at + 1) : words;
  const fields: Record<string, string> = {};
  let subject: string | undefined;
  for (const word of rest) {
    const match = /^([a-z][a-z-]*)=(.*)$/.exec(word);
    if (match) fields[match[1]!] = match[2]!;
    else subject ??= word;
  }
  return { line, fields, ...(subject !== undefined ? { subject } : {}) };
}
