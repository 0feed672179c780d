/** A `key=value` field of a program's readiness line (`... endpoint=tcp://127.0.0.1:5555 ...`). */
export function readinessField(line: string, key: string): string {
  const value = new RegExp(`\\b${key}=(\\S+)`).exec(line)?.[1];
  if (value === undefined) throw new Error(`no ${key}= in readiness line "${line}"`);
  return value;
}
