import { CorreioError, MessageCodec, decode } from '@correio/codec';
import { LamportStamp } from '../Stamp.js';

/** Request ids the broker may copy into a reply (protocol/ENCODING.md §3). */
const REQUEST_ID = /^[0-9A-Za-z_-]{1,64}$/;

/**
 * Builds the `error` envelopes a broker or proxy sends when it answers a request itself
 * (protocol/FRAMES.md §1.5): the request's id when its body decodes far enough to yield one,
 * otherwise "0"; `from` the sender's id; `lc` its Lamport clock (a LamportStamp, under the
 * protocol's bounds like every clock), merged with the request's. Only this error path ever looks
 * inside a body, and it never throws: a body it cannot read yields id "0" and lc 0.
 */
export class ErrorReplies {
  readonly #codec = new MessageCodec();
  readonly #stamp: LamportStamp;

  constructor(from: string) {
    this.#stamp = new LamportStamp(from);
  }

  /** The encoded error envelope answering `body` (the request's body frames). */
  encode(body: readonly Buffer[], error: CorreioError): Uint8Array {
    const { id, lc } = peekRequest(body);
    // Receiving the request and answering it are one event: the merged value stamps the reply.
    this.#stamp.observe({ lc, ts: 0 });
    const { lc: stamped, ts } = this.#stamp.current();
    return this.#codec.encode({ v: 1, type: 'error', id, from: this.#stamp.from, lc: stamped, ts, body: error.toWire() });
  }
}

/** Reads a request envelope's id and Lamport clock without validating the rest. */
function peekRequest(body: readonly Buffer[]): { id: string; lc: number } {
  if (body.length === 0) return { id: '0', lc: 0 };
  let value: unknown;
  try {
    value = decode(body[0]!);
  } catch {
    return { id: '0', lc: 0 };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { id: '0', lc: 0 };
  const { id, lc } = value as { id?: unknown; lc?: unknown };
  return {
    id: typeof id === 'string' && REQUEST_ID.test(id) ? id : '0',
    lc: typeof lc === 'number' && Number.isSafeInteger(lc) && lc >= 0 ? lc : 0,
  };
}
