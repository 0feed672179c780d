// protocol/vectors/v1/messages/<type>.json: envelopes of one message type. Valid ones come from the
// hand-written seeds and from schema boundary values; invalid ones from schema-driven mutations.
// The oracle (schemas + ENCODING.md) confirms every expectation before a case is written.
import type { SchemaSet } from './schemas.js';
import { SuiteBuilder } from './vectors-builder.js';
import { isMap, toHex, type V1Value, type VectorError, type VectorSuite } from './vectors-format.js';
import { proposeEdits, type Edit, type Path } from './vectors-mutations.js';
import type { Oracle } from './vectors-oracle.js';
import { cat, referenceEncode } from './vectors-reference.js';
import type { Sample } from './vector-samples.js';

/** The envelope fields around every per-type vector: a realistic request id, sender, clock and time. */
export const ENVELOPE_BASE = { v: 1, id: 'q7Jx0Wb3TRmC5d8fYk2LZg', from: 'client-7', lc: 42, ts: 1_700_000_000_123 } as const;

/** Edits whose envelope encodes larger than this are written once per schema node and kind, not per message type. */
const LARGE_CASE_BYTES = 2_048;
/** Edits larger than this are not written at all (vector files stay small). */
const MAX_CASE_BYTES = 17_000;
/**
 * The same edit of the same schema node (a shared definition such as defs.json uint, reached from
 * many fields) is written for at most this many fields of one message type: a message with thirty
 * counters needs its boundaries tested on a few of them, not on all thirty.
 */
const MAX_EDITS_PER_KEY = 4;

export function envelope(type: string, body: V1Value, overrides: Record<string, V1Value> = {}): Record<string, V1Value> {
  return { ...ENVELOPE_BASE, type, body, ...overrides };
}

export interface MessageFile {
  readonly type: string;
  readonly description: string;
  readonly suite: VectorSuite;
}

/**
 * Builds one file per message type that has both a schema and samples. `largeSeen` is shared
 * across types so a large boundary case (a 4,000-character text) is written once, for the first type.
 */
export function messageFiles(set: SchemaSet, oracle: Oracle, samples: Readonly<Record<string, readonly Sample[]>>, warn: (message: string) => void): MessageFile[] {
  const largeSeen = new Set<string>();
  const files: MessageFile[] = [];
  for (const message of set.messages) {
    const seeds = samples[message.type];
    if (!seeds || seeds.length === 0) {
      warn(`${message.type}: no samples in tools/codegen/src/vector-samples.ts, so no vectors; add some`);
      continue;
    }
    files.push({ type: message.type, description: message.schema.description ?? '', suite: typeVectors(message.type, seeds, oracle, largeSeen) });
  }
  const known = new Set(set.messages.map((message) => message.type));
  for (const type of Object.keys(samples).sort()) {
    if (!known.has(type)) warn(`${type}: skipped, protocol/schemas/v1/${type}.json does not exist (yet)`);
  }
  return files;
}

function typeVectors(type: string, seeds: readonly Sample[], oracle: Oracle, largeSeen: Set<string>): VectorSuite {
  const b = new SuiteBuilder(`messages/${type}.json`);
  const seen = new Set<string>();
  const editsPerKey = new Map<string, number>();
  const add = (description: string, value: Record<string, V1Value>, expect: VectorError | undefined): void => {
    const bytes = referenceEncode(value);
    const hex = toHex(bytes);
    if (seen.has(hex) || b.has(description)) return;
    seen.add(hex);
    if (expect === undefined) b.valid(description, value);
    else b.invalidValue(description, value, expect);
  };

  for (const seed of seeds) {
    const value = envelope(type, seed.body);
    const verdict = oracle.classify(value);
    if (verdict !== undefined) throw new Error(`vector-samples.ts: the ${type} sample "${seed.description}" is not valid (${verdict}); fix the sample`);
    add(seed.description, value, undefined);
  }

  for (const seed of seeds) {
    for (const edit of proposeEdits(oracle, oracle.body(type), seed.body)) {
      const body = applyEdit(seed.body, edit.path, edit.value);
      const value = envelope(type, body);
      const size = referenceEncode(value).byteLength;
      if (size > MAX_CASE_BYTES) continue;
      if (size > LARGE_CASE_BYTES) {
        if (largeSeen.has(edit.key)) continue;
        largeSeen.add(edit.key);
      }
      const verdict = oracle.classify(value);
      const expected: VectorError | undefined = edit.expect === 'valid' ? undefined : 'VALIDATION';
      // A proposal the schema does not bear out (a pattern that allows the "wrong" character, a
      // maximum no longer reachable) is dropped, never written with a guessed expectation.
      if (verdict !== expected) continue;
      const made = editsPerKey.get(edit.key) ?? 0;
      if (made >= MAX_EDITS_PER_KEY) continue;
      editsPerKey.set(edit.key, made + 1);
      add(describe(edit), value, expected);
    }
  }

  const first = envelope(type, seeds[0]!.body);
  const bytes = referenceEncode(first);
  b.decodeOnly('keys in reverse order, every integer in its 64-bit format', referenceEncode(first, { reverseKeys: true, wideIntegers: true }), first);
  b.invalidValue('v = 2: a version this peer does not speak', { ...first, v: 2 }, 'UNSUPPORTED_VERSION');
  b.invalidValue('v = 0', { ...first, v: 0 }, 'UNSUPPORTED_VERSION');
  b.invalidBytes('truncated: the last byte is missing', bytes.subarray(0, bytes.byteLength - 1), 'DECODE');
  b.invalidBytes('trailing bytes: a nil after the envelope', cat(bytes, 'c0'), 'DECODE');
  return b.suite;
}

function describe(edit: Edit): string {
  return `/body${edit.path.map((token) => `/${String(token).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('')}: ${edit.what}`;
}

/** A copy of `body` with the value at `path` replaced (or removed when `value` is undefined). */
export function applyEdit(body: V1Value, path: Path, value: V1Value | undefined): V1Value {
  if (path.length === 0) {
    if (value === undefined) throw new Error('cannot remove the body itself');
    return value;
  }
  const [head, ...rest] = path;
  if (Array.isArray(body)) {
    const copy = [...body];
    copy[head as number] = applyEdit(body[head as number]!, rest, value);
    return copy;
  }
  if (!isMap(body)) throw new Error(`path ${path.join('/')} runs into a scalar`);
  const copy: Record<string, V1Value> = { ...body };
  const key = String(head);
  if (rest.length === 0 && value === undefined) delete copy[key];
  else copy[key] = rest.length === 0 ? value! : applyEdit(body[key]!, rest, value);
  return copy;
}
