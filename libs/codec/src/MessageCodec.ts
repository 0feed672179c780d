import { randomBytes } from 'node:crypto';
import {
  BODY_VALIDATORS,
  MESSAGE_TYPES,
  PROTOCOL_VERSION,
  validateEnvelope,
  type AnyEnvelope,
  type Envelope,
  type MessageType,
  type Validator,
} from '@correio/protocol';
import { Decoder } from './Decoder.js';
import { Encoder } from './Encoder.js';
import { CorreioError, UnknownTypeError, UnsupportedVersionError, ValidationError } from './errors.js';
import type { Limits } from './limits.js';

export interface MessageCodecOptions {
  /** Decoder limits; defaults to DEFAULT_LIMITS. */
  readonly limits?: Partial<Limits>;
  /** Validate outgoing envelopes against their schemas too. Defaults to true. */
  readonly validateOnEncode?: boolean;
}

const KNOWN_TYPES: ReadonlySet<string> = new Set(MESSAGE_TYPES);

/**
 * Encodes and decodes envelopes (protocol/ENCODING.md §3): canonical MessagePack plus schema
 * validation of the envelope and its body. Reuse one instance per socket loop.
 */
export class MessageCodec {
  readonly #encoder: Encoder;
  readonly #decoder: Decoder;
  readonly #validateOnEncode: boolean;

  constructor(options: MessageCodecOptions = {}) {
    this.#decoder = new Decoder(options.limits);
    this.#encoder = new Encoder({ maxDepth: this.#decoder.limits.maxDepth });
    this.#validateOnEncode = options.validateOnEncode ?? true;
  }

  get limits(): Limits {
    return this.#decoder.limits;
  }

  /** Encodes an envelope; throws ValidationError when it does not match its schemas. */
  encode<T extends MessageType>(envelope: Envelope<T>): Uint8Array {
    // Encoding first tells whether the value holds binaries, which validation must then mask.
    const bytes = this.#encoder.encode(envelope);
    if (this.#validateOnEncode) checkEnvelope(envelope, this.#encoder.sawBinary);
    return bytes;
  }

  /**
   * Decodes `count` envelopes written back to back (a pub/sub batch). Bytes that are not exactly
   * `count` MessagePack values throw (DecodeError, TooLargeError): the batch cannot be trusted. A
   * value that is not a valid envelope fails alone: its slot holds the error.
   */
  decodeSequence(bytes: Uint8Array, count: number): Array<AnyEnvelope | CorreioError> {
    const values = this.#decoder.decodeSequence(bytes, count);
    const mayHoldBinary = this.#decoder.sawBinary;
    return values.map((value) => {
      try {
        return checkEnvelope(value, mayHoldBinary);
      } catch (error) {
        if (error instanceof CorreioError) return error;
        throw error;
      }
    });
  }

  /** Decodes and validates an envelope; every failure is a typed CorreioError. */
  decode(bytes: Uint8Array): AnyEnvelope {
    const value = this.#decoder.decode(bytes);
    return checkEnvelope(value, this.#decoder.sawBinary);
  }
}

/** Validates a decoded value as an envelope, in the order ENCODING.md §3 prescribes. */
export function checkEnvelope(value: unknown, mayHoldBinary = true): AnyEnvelope {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new ValidationError('a message must be a map (the envelope)', { data: { path: '' } });
  }
  const version = (value as { v?: unknown }).v;
  if (!Number.isInteger(version)) throw new ValidationError('the envelope has no integer version v', { data: { path: '/v' } });
  if (version !== PROTOCOL_VERSION) {
    throw new UnsupportedVersionError(`protocol version ${String(version)} is not supported; this peer speaks ${PROTOCOL_VERSION}`, {
      data: { version: version as number, supported: [PROTOCOL_VERSION] },
    });
  }
  const subject = (mayHoldBinary ? withOpaqueBinaries(value) : value) as AnyEnvelope;
  if (!validateEnvelope(subject)) throw validationError(validateEnvelope, '');
  const envelope = value as AnyEnvelope;
  if (!KNOWN_TYPES.has(envelope.type)) throw new UnknownTypeError(`unknown message type ${JSON.stringify(envelope.type)}`, { data: { type: envelope.type } });
  const validateBody = BODY_VALIDATORS[envelope.type];
  if (!validateBody(subject.body)) throw validationError(validateBody, '/body', envelope.type);
  return envelope;
}

// JSON Schema has no binary type, and ajv takes a Uint8Array for an object (typeof 'object'), so
// binary would pass as a map body or as an object field. Validators see it as a value of no JSON
// type instead, which only untyped (`any`) schemas accept, as ENCODING.md §1 intends.
const OPAQUE_BINARY = Symbol('binary');
/** Bounds the walk on values given to encode(), which may be cyclic; decoded values are far shallower. */
const MAX_WALK_DEPTH = 256;

/** The value with every binary made opaque, copied only along the paths that hold one (usually none). */
function withOpaqueBinaries(value: unknown, depth = 0): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Uint8Array) return OPAQUE_BINARY;
  if (depth >= MAX_WALK_DEPTH) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = withOpaqueBinaries(value[i], depth + 1);
      if (item !== value[i]) (copy ??= value.slice())[i] = item;
    }
    return copy ?? value;
  }
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    const replaced = withOpaqueBinaries(item, depth + 1);
    if (replaced === item) continue;
    copy ??= { ...value };
    Object.defineProperty(copy, key, { value: replaced, enumerable: true, writable: true, configurable: true });
  }
  return copy ?? value;
}

function validationError(validator: Validator, prefix: string, type?: string): ValidationError {
  const first = validator.errors?.[0];
  const path = `${prefix}${first?.instancePath ?? ''}`;
  const subject = type ? `${type} ${path || 'body'}` : path || 'envelope';
  return new ValidationError(`${subject} ${first?.message ?? 'is invalid'}`, {
    data: { path, keyword: first?.keyword ?? 'unknown', ...(type ? { type } : {}) },
  });
}

/** A fresh request id: 22 characters of URL-safe base64 from 16 random bytes (ENCODING.md §4). */
export function newRequestId(): string {
  return randomBytes(16).toString('base64url');
}
