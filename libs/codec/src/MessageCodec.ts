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
import { UnknownTypeError, UnsupportedVersionError, ValidationError } from './errors.js';
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
    if (this.#validateOnEncode) checkEnvelope(envelope);
    return this.#encoder.encode(envelope);
  }

  /** Decodes and validates an envelope; every failure is a typed CorreioError. */
  decode(bytes: Uint8Array): AnyEnvelope {
    return checkEnvelope(this.#decoder.decode(bytes));
  }
}

/** Validates a decoded value as an envelope, in the order ENCODING.md §3 prescribes. */
export function checkEnvelope(value: unknown): AnyEnvelope {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError('a message must be a map (the envelope)', { data: { path: '' } });
  }
  const version = (value as { v?: unknown }).v;
  if (!Number.isInteger(version)) throw new ValidationError('the envelope has no integer version v', { data: { path: '/v' } });
  if (version !== PROTOCOL_VERSION) {
    throw new UnsupportedVersionError(`protocol version ${String(version)} is not supported; this peer speaks ${PROTOCOL_VERSION}`, {
      data: { version: version as number, supported: [PROTOCOL_VERSION] },
    });
  }
  if (!validateEnvelope(value)) throw validationError(validateEnvelope, '');
  const envelope = value as AnyEnvelope;
  if (!KNOWN_TYPES.has(envelope.type)) throw new UnknownTypeError(`unknown message type ${JSON.stringify(envelope.type)}`, { data: { type: envelope.type } });
  const validateBody = BODY_VALIDATORS[envelope.type];
  if (!validateBody(envelope.body)) throw validationError(validateBody, '/body', envelope.type);
  return envelope;
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
