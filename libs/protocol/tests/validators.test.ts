// The generated validators against the message vectors: they accept every valid envelope and reach
// the expected verdict, in the order of ENCODING.md §3, on every invalid one.
import { describe, expect, it } from 'vitest';
import { BODY_VALIDATORS, MESSAGE_TYPES, PROTOCOL_VERSION, validateEnvelope, type MessageType } from '@correio/protocol';
import { forValidators, loadMessageFiles } from './vector-files.js';

const KNOWN: ReadonlySet<string> = new Set(MESSAGE_TYPES);

/** What the validators say about a decoded value, following ENCODING.md §3 after the bytes. */
function verdict(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'VALIDATION';
  const envelope = value as { v?: unknown; type?: unknown; body?: unknown };
  if (!Number.isInteger(envelope.v)) return 'VALIDATION';
  if (envelope.v !== PROTOCOL_VERSION) return 'UNSUPPORTED_VERSION';
  if (!validateEnvelope(value)) return 'VALIDATION';
  if (!KNOWN.has(envelope.type as string)) return 'UNKNOWN_TYPE';
  return BODY_VALIDATORS[envelope.type as MessageType](envelope.body) ? undefined : 'VALIDATION';
}

describe.each(loadMessageFiles())('$name', ({ valid, decode_only, invalid }) => {
  it.each([...valid, ...decode_only])('accepts: $description', ({ value }) => {
    const envelope = forValidators(value) as { type: MessageType; body: unknown };
    expect(validateEnvelope(envelope)).toBe(true);
    const validate = BODY_VALIDATORS[envelope.type];
    expect(validate(envelope.body), JSON.stringify(validate.errors)).toBe(true);
  });

  it.each(valid)('rejects an unknown extra body field: $description', ({ value }) => {
    const envelope = forValidators(value) as { type: MessageType; body: Record<string, unknown> };
    const validate = BODY_VALIDATORS[envelope.type];
    expect(validate({ ...envelope.body, zz_unknown_field: 1 })).toBe(false);
    expect(validate.errors?.length).toBeGreaterThan(0);
  });

  const byValue = invalid.filter((entry) => entry.value !== undefined);
  it.runIf(byValue.length > 0).each(byValue)('rejects: $description → $error', ({ value, error }) => {
    expect(verdict(forValidators(value!))).toBe(error);
  });
});

describe('binary', () => {
  it('is accepted by untyped payloads only, when presented as an opaque value', () => {
    const opaque = Symbol('binary');
    expect(BODY_VALIDATORS['service.call.request']({ action: 'files.put', params: opaque })).toBe(true);
    expect(BODY_VALIDATORS['chat.login.request']({ user: opaque })).toBe(false);
    expect(BODY_VALIDATORS['ref.servers.request'](opaque)).toBe(false);
  });
});
