import {
  BadRequestError,
  CorreioError,
  DecodeError,
  InternalError,
  type MessageCodec,
  UnavailableError,
} from '@correio/codec';
import { LamportExhaustedError, MESSAGE_INFO, PROTOCOL_VERSION, type AnyEnvelope, type Envelope, type MessageType } from '@correio/protocol';
import { readableId, UNREADABLE_ID } from './envelopeId.js';
import type { Frames } from './frames.js';
import type { Logger } from '@correio/observability';
import { RateLimitedWarning } from './RateLimitedWarning.js';
import { errorReading, type ClockReading, type Stamp } from './Stamp.js';

/** What a request handler is given besides the request. */
export interface RequestContext {
  /** The MDP service the request came through (workers only). */
  readonly service?: string;
  /** Aborted when the server gives up on this request: stop without draining, drain timeout, or lost broker. */
  readonly signal: AbortSignal;
  /** Sends a PARTIAL reply (a body of the request's reply type) ahead of the final one. Workers only. */
  partial(body: object): Promise<void>;
}

/**
 * Serves one request: returns the body of the reply (its type is the request type's reply type
 * from MESSAGE_INFO), or throws — a CorreioError travels to the client as is, anything else as
 * INTERNAL.
 */
export type RequestHandler = (request: AnyEnvelope, context: RequestContext) => object | Promise<object>;

/** A decoded request, or the error reply its bytes deserve. */
export type DecodedRequest =
  | { readonly ok: true; readonly request: AnyEnvelope }
  | { readonly ok: false; readonly error: CorreioError; readonly id: string };

/**
 * Turns request bytes into envelopes and handler results into reply bytes, the same way for the
 * MDP worker and the REP server: replies repeat the request id, carry the reply type the protocol
 * declares, and anything that goes wrong becomes an `error` envelope with the right code.
 */
export class Responder {
  readonly #codec: MessageCodec;
  readonly #stamp: Stamp;
  readonly #log: Logger;
  readonly #clampedRequest: RateLimitedWarning;

  constructor(codec: MessageCodec, stamp: Stamp, log: Logger) {
    this.#codec = codec;
    this.#stamp = stamp;
    this.#log = log;
    this.#clampedRequest = new RateLimitedWarning(log, "a request's lc was beyond the Lamport bounds: merged only up to them, and served");
  }

  /** Decodes a request body (exactly one frame holding one envelope of a request type). */
  decodeRequest(body: Frames): DecodedRequest {
    if (body.length !== 1) {
      return { ok: false, error: new DecodeError(`expected one body frame holding an envelope, got ${body.length}`), id: readableId(body[0]) };
    }
    const bytes = body[0]!;
    let request: AnyEnvelope;
    try {
      request = this.#codec.decode(bytes);
    } catch (error) {
      return { ok: false, error: CorreioError.from(error), id: readableId(bytes) };
    }
    // A request beyond the Lamport bounds is merged clamped and served, never refused: a refusal let an
    // attacker who had spent this peer's budget cut honest peers off from it (ENCODING.md §4.1).
    if (this.#stamp.observe(request, 'request')) this.#clampedRequest.note({ type: request.type, id: request.id, from: request.from, lc: request.lc });
    if (MESSAGE_INFO[request.type].pattern !== 'request') {
      return { ok: false, error: new BadRequestError(`${request.type} is not a request type`, { data: { type: request.type } }), id: request.id };
    }
    return { ok: true, request };
  }

  /** Encodes a reply to `request`; throws (ValidationError, InternalError) when `body` cannot be one. */
  encodeReply(request: AnyEnvelope, body: object): Uint8Array {
    const type = MESSAGE_INFO[request.type].reply;
    if (type === undefined) throw new InternalError(`${request.type} declares no reply type`, { retryable: false });
    return this.#codec.encode(this.#envelope(type, request.id, body));
  }

  /** Encodes the final reply to `request`. A body that cannot be one becomes an INTERNAL error reply. */
  reply(request: AnyEnvelope, body: object): Uint8Array {
    try {
      return this.encodeReply(request, body);
    } catch (error) {
      if (error instanceof LamportExhaustedError) return this.error(request.id, replyError(error));
      const failure = CorreioError.from(error);
      this.#log.error({ err: failure, type: request.type, id: request.id }, 'handler produced an invalid reply');
      return this.error(
        request.id,
        new InternalError(`the service produced an invalid reply to ${request.type}: ${failure.message}`, { retryable: false, data: failure.data ?? {} }),
      );
    }
  }

  /**
   * Encodes an `error` reply. Never throws: a clock that cannot tick stamps it with its current
   * value, and an error whose data cannot be encoded is replaced by a plain INTERNAL one.
   */
  error(id: string, error: CorreioError): Uint8Array {
    const { lc, ts } = this.#errorClock();
    const envelope = (body: object): Envelope<'error'> => ({ v: PROTOCOL_VERSION, type: 'error', id, from: this.#stamp.from, lc, ts, body: body as Envelope<'error'>['body'] });
    try {
      return this.#codec.encode(envelope(error.toWire()));
    } catch (encodeError) {
      this.#log.error({ err: encodeError, code: error.code, id }, 'could not encode an error reply; sending a plain INTERNAL one');
      return this.#codec.encode(envelope({ code: 'INTERNAL', message: `the ${error.code} error reply could not be encoded`, retryable: false }));
    }
  }

  /** errorReading, and lc 0 from a Stamp that breaks its contract by throwing there too. */
  #errorClock(): ClockReading {
    try {
      return errorReading(this.#stamp);
    } catch (error) {
      this.#log.error({ err: error }, 'the stamp could not stamp an error reply; sending it with lc 0');
      return { lc: 0, ts: Date.now() };
    }
  }

  #envelope<T extends MessageType>(type: T, id: string, body: object): Envelope<T> {
    const { lc, ts } = this.#stamp.tick();
    return { v: PROTOCOL_VERSION, type, id, from: this.#stamp.from, lc, ts, body: body as Envelope<T>['body'] };
  }
}

/**
 * The error a client gets for what a handler threw: a CorreioError as is; a clock at 2^53 − 1
 * UNAVAILABLE (the peer degrades, never crashes; the client tries another, ENCODING.md §4.1);
 * anything else INTERNAL.
 */
export function replyError(error: unknown): CorreioError {
  if (error instanceof LamportExhaustedError) return new UnavailableError(`this peer cannot serve: ${error.message}`, { data: { reason: 'lamport_exhausted' } });
  return CorreioError.from(error);
}

/** The id of an error reply to a request whose own id could not be read (FRAMES.md §1.4). */
export const UNKNOWN_REQUEST_ID = UNREADABLE_ID;

