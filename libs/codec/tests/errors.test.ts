// Typed errors: every code crosses the wire as an `error` message and comes back as its own class.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BadRequestError,
  ConflictError,
  CorreioError,
  DecodeError,
  InternalError,
  isErrorCode,
  MessageCodec,
  NotFoundError,
  OverloadedError,
  TimeoutError,
  TooLargeError,
  UnavailableError,
  UnknownServiceError,
  UnknownTypeError,
  UnsupportedVersionError,
  ValidationError,
  UnauthenticatedError,
  ForbiddenError,
  type ErrorCode,
  type WireError,
} from '@correio/codec';
import { ERROR_CODES } from '@correio/protocol';

const CLASSES: Record<ErrorCode, new (message: string, options?: ConstructorParameters<typeof DecodeError>[1]) => CorreioError> = {
  DECODE: DecodeError,
  TOO_LARGE: TooLargeError,
  VALIDATION: ValidationError,
  UNSUPPORTED_VERSION: UnsupportedVersionError,
  UNKNOWN_TYPE: UnknownTypeError,
  BAD_REQUEST: BadRequestError,
  NOT_FOUND: NotFoundError,
  CONFLICT: ConflictError,
  UNKNOWN_SERVICE: UnknownServiceError,
  TIMEOUT: TimeoutError,
  UNAVAILABLE: UnavailableError,
  OVERLOADED: OverloadedError,
  INTERNAL: InternalError,
  UNAUTHENTICATED: UnauthenticatedError,
  FORBIDDEN: ForbiddenError,
};

/** The code table of ENCODING.md §5: code → retryable. */
function specifiedCodes(): Map<string, boolean> {
  const encoding = readFileSync(new URL('../../../protocol/ENCODING.md', import.meta.url), 'utf8');
  const section = encoding.slice(encoding.indexOf('## 5. Errors'));
  const rows = [...section.matchAll(/^\| `([A-Z_]+)` \| (yes|no) \|/gm)];
  return new Map(rows.map((row) => [row[1]!, row[2] === 'yes']));
}

/** Sends a wire error through a real encode/decode as the body of an `error` envelope. */
function overTheWire(wire: WireError): WireError {
  const codec = new MessageCodec();
  const bytes = codec.encode({ v: 1, type: 'error', id: 'req-1', from: 'srv-1', lc: 3, ts: 1_700_000_000_000, body: wire });
  const envelope = codec.decode(bytes);
  if (envelope.type !== 'error') throw new Error(`decoded a ${envelope.type}`);
  return envelope.body;
}

describe('error codes', () => {
  it('match the table of ENCODING.md §5, with its retryability', () => {
    const specified = specifiedCodes();
    expect([...specified.keys()]).toEqual([...ERROR_CODES]);
    for (const code of ERROR_CODES) expect(new CLASSES[code]('x').retryable, code).toBe(specified.get(code));
  });

  it('have one class each, named after it', () => {
    expect(Object.keys(CLASSES).sort()).toEqual([...ERROR_CODES].sort());
    for (const code of ERROR_CODES) {
      const error = new CLASSES[code]('boom');
      expect(error).toBeInstanceOf(Error);
      expect(error).toBeInstanceOf(CorreioError);
      expect(error.code).toBe(code);
      expect(error.name).toBe(CLASSES[code].name);
      expect(error.name).toMatch(/Error$/);
      expect(error.message).toBe('boom');
      expect(isErrorCode(code)).toBe(true);
    }
    expect(isErrorCode('NOPE')).toBe(false);
    expect(isErrorCode(undefined)).toBe(false);
  });
});

describe('toWire → error message → fromWire', () => {
  it.each([...ERROR_CODES])('%s rebuilds the right class, code, retryable and data', (code) => {
    const data = { path: '/body/user', attempt: 2, nested: { ok: false, list: [1, 'two'] } };
    const original = new CLASSES[code](`failed with ${code}`, { data });
    const wire = overTheWire(original.toWire());
    expect(wire).toEqual({ code, message: `failed with ${code}`, retryable: original.retryable, data });
    const rebuilt = CorreioError.fromWire(wire);
    expect(rebuilt).toBeInstanceOf(CLASSES[code]);
    expect(rebuilt).toBeInstanceOf(CorreioError);
    expect(rebuilt.code).toBe(code);
    expect(rebuilt.name).toBe(original.name);
    expect(rebuilt.message).toBe(original.message);
    expect(rebuilt.retryable).toBe(original.retryable);
    expect(rebuilt.data).toEqual(data);
  });

  it.each([...ERROR_CODES])('%s without data and with retryable overridden', (code) => {
    const original = new CLASSES[code]('x', { retryable: !new CLASSES[code]('x').retryable });
    const wire = overTheWire(original.toWire());
    expect(wire).not.toHaveProperty('data');
    const rebuilt = CorreioError.fromWire(wire);
    expect(rebuilt.retryable).toBe(original.retryable);
    expect(rebuilt.data).toBeUndefined();
  });

  it('sends the CorreioError base class with any code', () => {
    const rebuilt = CorreioError.fromWire(overTheWire(new CorreioError('CONFLICT', 'taken').toWire()));
    expect(rebuilt).toBeInstanceOf(ConflictError);
    expect(rebuilt.retryable).toBe(false);
  });

  it('cuts long messages to 1,000 code points, never inside a surrogate pair', () => {
    expect(new InternalError('a'.repeat(5_000)).toWire().message).toHaveLength(1_000);
    for (const prefix of [998, 999, 1_000]) {
      const wire = new InternalError(`${'a'.repeat(prefix)}😀😀`).toWire();
      expect([...wire.message].length).toBeLessThanOrEqual(1_000);
      expect(wire.message).not.toMatch(/[\uD800-\uDBFF]$/);
      expect(overTheWire(wire).message).toBe(wire.message);
    }
    const astral = new InternalError('😀'.repeat(1_500)).toWire();
    expect([...astral.message]).toHaveLength(1_000);
    expect(overTheWire(astral)).toEqual(astral);
  });

  it('replaces lone surrogates, which have no UTF-8 form, so the reply can still be sent', () => {
    const wire = new InternalError('bad \uD800 and \uDC00 here, fine 😀').toWire();
    expect(wire.message).toBe('bad \uFFFD and \uFFFD here, fine 😀');
    expect(overTheWire(wire)).toEqual(wire);
  });
});

describe('CorreioError.from', () => {
  it('keeps CorreioErrors and wraps anything else as a retryable INTERNAL with its cause', () => {
    const typed = new NotFoundError('no such channel');
    expect(CorreioError.from(typed)).toBe(typed);
    const cause = new TypeError('x is undefined');
    const wrapped = CorreioError.from(cause);
    expect(wrapped).toBeInstanceOf(InternalError);
    expect(wrapped.message).toBe('x is undefined');
    expect(wrapped.cause).toBe(cause);
    expect(wrapped.retryable).toBe(true);
    expect(CorreioError.from('just a string').message).toBe('just a string');
    expect(CorreioError.from(undefined)).toBeInstanceOf(InternalError);
  });
});
