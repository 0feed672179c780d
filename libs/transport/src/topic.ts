// Pub/sub topics: "<namespace>/" or "<namespace>/<name>/". The trailing slash makes prefix
// subscriptions exact: subscribing to "chan/dev/" never delivers "chan/devops/".
const SEGMENT = /^[\x21-\x2e\x30-\x7e]+$/; // printable ASCII without '/'

/** Largest topic, in bytes. */
export const MAX_TOPIC_BYTES = 255;

/** The topic for a namespace and, optionally, a name within it: topic('chan', 'general') is "chan/general/". */
export function topic(namespace: string, name?: string): string {
  for (const [what, segment] of [['namespace', namespace], ['name', name]] as const) {
    if (segment !== undefined && !SEGMENT.test(segment)) throw new RangeError(`topic ${what} must be printable ASCII without '/', got ${JSON.stringify(segment)}`);
  }
  const text = name === undefined ? `${namespace}/` : `${namespace}/${name}/`;
  if (text.length > MAX_TOPIC_BYTES) throw new RangeError(`topic longer than ${MAX_TOPIC_BYTES} bytes`);
  return text;
}

/** True for a well-formed topic: non-empty printable segments, each followed by '/'. */
export function isTopic(text: string): boolean {
  if (text.length === 0 || text.length > MAX_TOPIC_BYTES || !text.endsWith('/')) return false;
  return text
    .slice(0, -1)
    .split('/')
    .every((segment) => SEGMENT.test(segment));
}
