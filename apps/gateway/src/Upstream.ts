import { InternalError } from '@correio/codec';
import type { CurveClientKeys } from '@correio/observability';
import { MESSAGE_INFO, type BodyOf, type MessageType } from '@correio/protocol';
import { LamportStamp, RequestClient, type RequestOptions } from '@correio/transport';
import type { Logger } from 'pino';

export interface UpstreamOptions {
  /** The broker's MDP endpoint. */
  readonly broker: string;
  /** The `from` of every envelope: the gateway's node id. */
  readonly from: string;
  /** Per-attempt time-out, ms. */
  readonly timeout: number;
  /** Attempts after the first, with the same request id, on time-outs and retryable errors. */
  readonly retries: number;
  readonly maxInFlight: number;
  readonly curve?: CurveClientKeys;
  readonly logger?: Logger;
}

/** What a call adds to its envelope. */
export interface CallContext {
  /** The caller's bearer token, carried as the envelope's `auth` (protocol revision 1.1). */
  readonly auth?: string;
  /** The request id: a client's Idempotency-Key, so a retried HTTP call is one operation. */
  readonly id?: string;
  readonly signal?: AbortSignal;
  /** This call's per-attempt time-out, ms, when it is not the default (a long poll). */
  readonly timeout?: number;
}

/**
 * The gateway's one connection to the broker: every HTTP request and every stream's history read
 * is an MDP request on it, each with its own request id, retried with that id (so a retry never
 * publishes twice). Replies are validated by the codec before they get here.
 */
export class Upstream {
  readonly #client: RequestClient;

  constructor(options: UpstreamOptions) {
    this.#client = new RequestClient({
      endpoint: options.broker,
      stamp: new LamportStamp(options.from),
      timeout: options.timeout,
      retries: options.retries,
      maxInFlight: options.maxInFlight,
      backoff: { initialMs: 100, maxMs: 1_000 },
      ...(options.curve ? { curve: options.curve } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
  }

  get connected(): boolean {
    return this.#client.connected;
  }

  get stats(): RequestClient['stats'] {
    return this.#client.stats;
  }

  /** Sends `type` to `service` and resolves with the body of its declared reply; a typed error is thrown as the CorreioError it carries. */
  async call<T extends MessageType>(service: string, type: T, body: BodyOf<T>, context: CallContext = {}): Promise<unknown> {
    const options: RequestOptions = {
      ...(context.id !== undefined ? { id: context.id } : {}),
      ...(context.signal !== undefined ? { signal: context.signal } : {}),
      ...(context.auth !== undefined ? { auth: context.auth } : {}),
      ...(context.timeout !== undefined ? { timeout: context.timeout } : {}),
    };
    const reply = await this.#client.request(service, type, body, options);
    const expected = MESSAGE_INFO[type].reply;
    if (reply.type !== expected) throw new InternalError(`${type} was answered with ${reply.type}, not ${expected}`, { retryable: false });
    return reply.body;
  }

  /** MMI (RFC 8): true when the broker has at least one worker for `service`. */
  async hasWorkers(service: string, timeout: number): Promise<boolean> {
    const [answer] = await this.#client.requestRaw('mmi.service', [Buffer.from(service)], { timeout });
    return answer !== undefined && Buffer.from(answer).toString() === '200';
  }

  close(): Promise<void> {
    return this.#client.close();
  }
}
