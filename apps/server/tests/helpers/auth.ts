// Requests that carry an access token in the envelope auth (protocol revision 1.1), sent as raw
// envelopes: the transport's RequestClient has no auth field yet.
import { CorreioError, MessageCodec, type WireError } from '@correio/codec';
import type { AnyEnvelope, BodyOf } from '@correio/protocol';
import type { ReplyBody, RequestType } from '@correio/service';
import { RequestClient } from '@correio/transport';
import { rawEnvelope } from './chat.js';

/**
 * Attempts of one request, with the same id (so the server deduplicates), while there is no reply
 * in time or the reply is a retryable error such as UNAVAILABLE during a catch-up: what the protocol
 * asks of clients (protocol/README.md, a minimal client).
 */
const ATTEMPTS = 5;
const TIMEOUT_MS = 10_000;

export class AuthClient {
  readonly #transport: RequestClient;
  readonly #codec = new MessageCodec();

  constructor(broker: string, from: string) {
    this.#transport = new RequestClient({ endpoint: broker, from, timeout: TIMEOUT_MS });
  }

  async #send(service: string, bytes: Uint8Array): Promise<AnyEnvelope | CorreioError> {
    try {
      const [frame] = await this.#transport.requestRaw(service, [bytes], { timeout: TIMEOUT_MS });
      return this.#codec.decode(frame!);
    } catch (error) {
      return CorreioError.from(error);
    }
  }

  /** Sends an envelope as given (hostile ones too): the reply envelope, or the transport's error. */
  raw(service: string, bytes: Uint8Array): Promise<AnyEnvelope | CorreioError> {
    return this.#send(service, bytes);
  }

  close(): Promise<void> {
    return this.#transport.close();
  }

  /** A request the test expects to succeed, with `token` in the envelope auth when given. */
  async call<T extends RequestType>(service: string, type: T, body: BodyOf<T> | Record<string, unknown>, token?: string): Promise<ReplyBody<T>> {
    const bytes = rawEnvelope(type, body, token === undefined ? {} : { auth: token });
    for (let attempt = 1; ; attempt++) {
      const reply = await this.#send(service, bytes);
      if (!(reply instanceof CorreioError) && reply.type !== 'error') return reply.body as ReplyBody<T>;
      const error = reply instanceof CorreioError ? reply : CorreioError.fromWire(reply.body as WireError);
      if (!error.retryable || attempt === ATTEMPTS || error.code === 'UNAUTHENTICATED') throw error;
    }
  }

  /** A request the test expects to fail: its typed error. */
  async failure<T extends RequestType>(service: string, type: T, body: BodyOf<T> | Record<string, unknown>, token?: string): Promise<CorreioError> {
    try {
      await this.call(service, type, body, token);
    } catch (error) {
      return CorreioError.from(error);
    }
    throw new Error(`${type} ${JSON.stringify(body)} succeeded, but a failure was expected`);
  }

  /** The error a request gets, or undefined when it succeeds: for waiting until something is refused. */
  async refusal<T extends RequestType>(service: string, type: T, body: BodyOf<T> | Record<string, unknown>, token?: string): Promise<CorreioError | undefined> {
    try {
      await this.call(service, type, body, token);
      return undefined;
    } catch (error) {
      return CorreioError.from(error);
    }
  }

  /** Registers `user` (through `service`) and logs in: the login reply with its tokens. */
  async signUp(service: string, user: string, password: string): Promise<ReplyBody<'chat.login.request'>> {
    await this.call(service, 'chat.register.request', { user, password });
    return this.call(service, 'chat.login.request', { user, password });
  }
}
