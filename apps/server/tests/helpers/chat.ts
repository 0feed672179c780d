// A test client speaking the chat protocol through the broker with @correio/transport directly,
// as any peer would: typed bodies in, reply bodies out, errors as CorreioError.
import { CorreioError, MessageCodec, encode } from '@correio/codec';
import type { AnyEnvelope, BodyOf, MessageType } from '@correio/protocol';
import type { ReplyBody, RequestType } from '@correio/service';
import { RequestClient, Subscriber, type Publication } from '@correio/transport';

export interface CallOptions {
  readonly id?: string;
  /** Further attempts, with the same id, after a retryable error or a timeout. Default 5. */
  readonly retries?: number;
  readonly timeout?: number;
}

export class ChatClient {
  readonly transport: RequestClient;
  readonly #raw: RequestClient;

  constructor(
    broker: string,
    readonly from = 'test-client',
  ) {
    this.transport = new RequestClient({ endpoint: broker, from, timeout: 5_000, maxInFlight: 10_000 });
    this.#raw = new RequestClient({ endpoint: broker, from: `${from}-raw`, timeout: 5_000 });
  }

  /** A request whose success the test expects; retryable failures are retried with the same id. */
  async call<T extends RequestType>(service: string, type: T, body: BodyOf<T>, options: CallOptions = {}): Promise<ReplyBody<T>> {
    const reply = await this.transport.request(service, type, body, {
      retries: options.retries ?? 5,
      backoff: { initialMs: 50, maxMs: 1_000 },
      ...(options.id ? { id: options.id } : {}),
      ...(options.timeout ? { timeout: options.timeout } : {}),
    });
    return reply.body as ReplyBody<T>;
  }

  /** A request the test expects to fail: resolves with its typed error. */
  async failure<T extends RequestType>(service: string, type: T, body: BodyOf<T>, options: CallOptions = {}): Promise<CorreioError> {
    try {
      await this.call(service, type, body, { retries: 0, ...options });
    } catch (error) {
      return CorreioError.from(error);
    }
    throw new Error(`${type} ${JSON.stringify(body)} succeeded, but a failure was expected`);
  }

  /**
   * Sends bytes the client library would refuse to build (an invalid body, a wrong version,
   * garbage) and returns the decoded reply envelope: what a careless peer in any language gets.
   */
  async raw(service: string, bytes: Uint8Array): Promise<AnyEnvelope> {
    const [frame] = await this.#raw.requestRaw(service, [bytes], { timeout: 5_000 });
    return new MessageCodec().decode(frame!);
  }

  async close(): Promise<void> {
    await this.transport.close();
    await this.#raw.close();
  }
}

/** An envelope encoded without any validation. */
export function rawEnvelope(type: string, body: unknown, overrides: Record<string, unknown> = {}): Uint8Array {
  return encode({ v: 1, type, id: `raw${Math.random().toString(36).slice(2, 12)}`, from: 'careless-peer', lc: 1, ts: Date.now(), body, ...overrides });
}

/** Every page of a channel's history through one server, oldest first. */
export async function wholeHistory(client: ChatClient, service: string, channel: string, limit = 500): Promise<BodyOf<'chat.publication'>[]> {
  const pages: BodyOf<'chat.publication'>[][] = [];
  let before: string | undefined;
  for (let page = 0; page < 10_000; page++) {
    const reply = await client.call(service, 'chat.history.request', { channel, limit, ...(before ? { before } : {}) });
    pages.unshift(reply.messages);
    if (reply.next === undefined) return pages.flat();
    before = reply.next;
  }
  throw new Error('history did not end within 10,000 pages');
}

/** Collects publications of the given topic prefixes, as they arrive. */
export class Collector {
  readonly received: Publication[] = [];
  readonly #subscriber: Subscriber;
  readonly #loop: Promise<void>;

  constructor(proxySub: string, topics: readonly string[]) {
    const subscriber = new Subscriber({ topics });
    subscriber.connect(proxySub);
    this.#subscriber = subscriber;
    this.#loop = (async () => {
      for await (const publication of subscriber) this.received.push(publication);
    })();
  }

  of<T extends MessageType>(type: T): BodyOf<T>[] {
    return this.received.filter((p) => p.envelope.type === type).map((p) => p.envelope.body as BodyOf<T>);
  }

  get gaps(): number {
    return this.#subscriber.stats.gaps;
  }

  async close(): Promise<void> {
    await this.#subscriber.close();
    await this.#loop;
  }
}

/** Polls `check` every 25 ms until it holds; fails after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
