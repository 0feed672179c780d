import type { ErrorObject } from 'ajv';

/** One offending key of a config section or document, and what is wrong with it, for a person. */
export interface SettingProblem {
  /** The path of the key: ["server", "logLevel"] in a file, ["logLevel"] in a document. */
  readonly segments: readonly string[];
  readonly message: string;
}

/**
 * One problem per offending key, from ajv's errors: unknown keys with a "did you mean", values
 * with what the schema's `x-expected` says a value should look like.
 */
export function explainErrors(errors: readonly ErrorObject[]): SettingProblem[] {
  const byPath = new Map<string, ErrorObject[]>();
  for (const error of errors) {
    const path = error.keyword === 'additionalProperties' ? `${error.instancePath}/${String(error.params['additionalProperty'])}` : error.instancePath;
    byPath.set(path, [...(byPath.get(path) ?? []), error]);
  }
  return [...byPath].map(([path, group]) => {
    const segments = path.split('/').slice(1).map(unescapePointer);
    return { segments, message: explain(group, segments) };
  });
}

function explain(group: readonly ErrorObject[], segments: readonly string[]): string {
  const unknown = group.find((error) => error.keyword === 'additionalProperties');
  if (unknown) {
    const known = Object.keys((unknown.parentSchema as { properties?: object } | undefined)?.properties ?? {}).filter((key) => key !== '$schema');
    const name = segments[segments.length - 1]!;
    const suggestion = closest(name, known);
    const where = segments.length === 1 ? 'a top-level section' : `a key of section "${segments.slice(0, -1).join('.')}"`;
    return (
      `"${name}" is not ${where}` +
      (suggestion ? `; did you mean "${suggestion}"?` : '.') +
      ` Known: ${known.join(', ')}.` +
      (segments.length > 1 ? ' Keys are the flags in camelCase (--max-queue → maxQueue).' : '')
    );
  }
  // Prefer the error at the level that says what the value should look like (a oneOf, say).
  const described = group.find((error) => typeof (error.parentSchema as Record<string, unknown> | undefined)?.['x-expected'] === 'string');
  const got = group[0]!.data;
  if (described) return `expected ${String((described.parentSchema as Record<string, unknown>)['x-expected'])}; got ${show(got)}.`;
  const first = group[0]!;
  if (first.keyword === 'type' && segments.length <= 1) return `must be a map of keys to values (got ${show(got)}).`;
  return `${first.message ?? 'invalid'}; got ${show(got)}.`;
}

function show(value: unknown): string {
  if (value === null) return 'null (an empty value)';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** The known key nearest to a misspelt one (edit distance ≤ 3), for "did you mean". */
function closest(name: string, candidates: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const prefix = candidates.find((key) => lower.startsWith(key.toLowerCase()) || key.toLowerCase().startsWith(lower));
  if (prefix) return prefix;
  let best: { key: string; distance: number } | undefined;
  for (const key of candidates) {
    const distance = editDistance(name.toLowerCase(), key.toLowerCase());
    if (distance <= 3 && (!best || distance < best.distance)) best = { key, distance };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
