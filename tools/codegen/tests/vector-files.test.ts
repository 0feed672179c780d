// Every committed vector file validates against protocol/vectors/vectors.schema.json and keeps the
// conventions of protocol/vectors/README.md.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';

const VECTORS = fileURLToPath(new URL('../../../protocol/vectors/', import.meta.url));
const files = readdirSync(join(VECTORS, 'v1'), { recursive: true, encoding: 'utf8' })
  .filter((path) => path.endsWith('.json'))
  .sort();

interface Case {
  description: string;
  value?: unknown;
  msgpack_hex?: string;
  error?: string;
}
interface VectorFile {
  kind: string;
  type?: string;
  valid: Case[];
  decode_only: Case[];
  invalid: Case[];
}

function load(path: string): VectorFile {
  return JSON.parse(readFileSync(join(VECTORS, 'v1', path), 'utf8')) as VectorFile;
}

describe('vector files', () => {
  // strictRequired is off: the schema's conditionals require properties declared at its root.
  const ajv = new Ajv2020({ strict: true, strictRequired: false, allowUnionTypes: true, allErrors: true });
  const validate = ajv.compile(JSON.parse(readFileSync(join(VECTORS, 'vectors.schema.json'), 'utf8')));

  it('exist: codec, envelope and message files', () => {
    expect(files).toContain('codec.json');
    expect(files).toContain('envelope.json');
    expect(files.filter((path) => path.startsWith('messages/')).length).toBeGreaterThan(10);
  });

  it.each(files)('%s validates against vectors.schema.json', (path) => {
    const valid = validate(load(path));
    expect(validate.errors ?? [], path).toEqual([]);
    expect(valid).toBe(true);
  });

  it.each(files)('%s has unique descriptions and a type matching its name', (path) => {
    const file = load(path);
    const descriptions = [...file.valid, ...file.decode_only, ...file.invalid].map((entry) => entry.description);
    expect(new Set(descriptions).size).toBe(descriptions.length);
    if (path.startsWith('messages/')) {
      expect(file.type).toBe(path.slice('messages/'.length, -'.json'.length));
      for (const entry of file.valid) expect((entry.value as { type: string }).type).toBe(file.type);
    }
  });

  it('hold hundreds of cases of every kind, each message type under 512 KB and all under 4 MB', () => {
    const all = files.map(load);
    const count = (pick: (file: VectorFile) => Case[]) => all.reduce((sum, file) => sum + pick(file).length, 0);
    expect(count((file) => file.valid)).toBeGreaterThan(300);
    expect(count((file) => file.decode_only)).toBeGreaterThan(40);
    expect(count((file) => file.invalid)).toBeGreaterThan(500);
    const errors = new Set(all.flatMap((file) => file.invalid.map((entry) => entry.error)));
    expect([...errors].sort()).toEqual(['DECODE', 'TOO_LARGE', 'UNKNOWN_TYPE', 'UNSUPPORTED_VERSION', 'VALIDATION']);
    // Every implementation downloads and runs all of them: the total grows with the message types
    // (about 25 KB each, 76 in revision 1.5, plus the codec's) and their fields, not with a generator
    // gone wild. The widest, gateway.dashboard (some 45 fields, a list of up to 1,000), is ~400 KB;
    // the batches of log lines (logs.copy, logs.ship: up to 1,000 lines) about 210 and 130 KB. The
    // task queue's replies (revision 1.6) each carry a job of some 30 fields: 130 to 260 KB apiece,
    // and tasks.copy (jobs and schedules) about 460 KB, for 5.7 MB in all.
    const sizes = files.map((path) => ({ path, bytes: statSync(join(VECTORS, 'v1', path)).size }));
    expect(sizes.filter(({ path, bytes }) => path.startsWith('messages/') && bytes >= 512 * 1024)).toEqual([]);
    expect(sizes.reduce((sum, { bytes }) => sum + bytes, 0)).toBeLessThan(6 * 1024 * 1024);
  });

  it('rejects a malformed vector file', () => {
    const bad = { version: 1, kind: 'codec', description: 'x', limits: {}, valid: [{ description: 'float', value: 1.5, msgpack_hex: 'cb' }], decode_only: [], invalid: [{ description: 'both', value: 1, msgpack_hex: '01', error: 'DECODE' }] };
    expect(validate(bad)).toBe(false);
    const paths = (validate.errors ?? []).map((error) => error.instancePath);
    expect(paths).toEqual(expect.arrayContaining(['/limits', '/valid/0/value', '/invalid/0']));
  });
});
