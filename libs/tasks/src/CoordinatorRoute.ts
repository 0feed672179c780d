import { CorreioError } from '@correio/codec';
import type { AnyEnvelope, BodyOf, MessageType } from '@correio/protocol';
import { DirectLinks, type DirectLinksStats, type RequestClient, type RequestOptions, type SocketOptions } from '@correio/transport';

/** The broker service of the task queue (protocol/FRAMES.md §4.2). */
export const TASKS_SERVICE = 'tasks';

export interface CoordinatorRouteOptions {
  /** The client's broker connection: the route is asked there, and requests go there without a link. */
  readonly broker: Pick<RequestClient, 'request'>;
  /** The broker's endpoint(s): a loopback or ipc:// coordinator endpoint is used only when these are local too. */
  readonly brokerEndpoints: readonly string[];
  readonly socket?: SocketOptions;
  readonly auth?: () => string | undefined;
}

export interface CoordinatorRouteStats extends DirectLinksStats {
  /** The coordinator the latest route answer named, and its direct endpoint if it gave one. */
  readonly coordinator?: string;
  readonly endpoint?: string;
  /** Route questions asked (tasks.route.request). */
  readonly asked: number;
}

/** Least ms between two route questions while no link is up (one per client, whatever its traffic). */
const ASK_EVERY_MS = 1_000;
/** After an answer that is not a route (a server before revision 1.9), ask again only this much later. */
const ASK_AFTER_REFUSAL_MS = 60_000;
const ASK_TIMEOUT_MS = 5_000;
/** The coordinator's role as a DirectLinks destination. */
const COORDINATOR = 'coordinator';
const LOCAL_ONLY = /^(ipc:\/\/|tcp:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\]):)/;

/**
 * Where a client's `tasks` requests go (protocol revision 1.9): straight to the coordinator's direct
 * endpoint while a connection there is up, through the broker otherwise. The route is asked with
 * `tasks.route.request` through the broker in the background, never before a request; an endpoint
 * that stops serving `tasks` (its server no longer coordinates) sends the client back to the broker
 * and makes it ask again.
 */
export class CoordinatorRoute {
  readonly #options: CoordinatorRouteOptions;
  readonly #links: DirectLinks;
  readonly #brokerIsLocal: boolean;
  #coordinator: string | undefined;
  #endpoint: string | undefined;
  #nextAsk = 0;
  #asking = false;
  #asked = 0;
  #closed = false;

  constructor(options: CoordinatorRouteOptions) {
    this.#options = options;
    this.#brokerIsLocal = options.brokerEndpoints.every((endpoint) => LOCAL_ONLY.test(endpoint));
    this.#links = new DirectLinks({
      broker: options.broker,
      endpointOf: () => this.#endpoint,
      ...(options.socket ? { socket: options.socket } : {}),
      ...(options.socket?.logger ? { logger: options.socket.logger } : {}),
      // That server no longer coordinates: ask who does now.
      onMisdirected: () => this.#forget(),
    });
  }

  get stats(): CoordinatorRouteStats {
    return {
      ...this.#links.stats,
      asked: this.#asked,
      ...(this.#coordinator === undefined ? {} : { coordinator: this.#coordinator }),
      ...(this.#endpoint === undefined ? {} : { endpoint: this.#endpoint }),
    };
  }

  /** Sends one `tasks` request, directly when a link is up; resolves or rejects as RequestClient.request does. */
  async request<T extends MessageType>(type: T, body: BodyOf<T>, options: RequestOptions): Promise<AnyEnvelope> {
    const direct = this.#links.connected(COORDINATOR);
    if (!direct) this.#askSoon();
    try {
      return await this.#links.request(COORDINATOR, TASKS_SERVICE, type, body, options);
    } catch (error) {
      // No answer on a connection that is up: that server stalls (stopped, swapping) and may have
      // lost the queue to another meanwhile. The broker notices a stalled worker; go back to it.
      if (direct && error instanceof CorreioError && error.code === 'TIMEOUT') this.#forget();
      throw error;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#links.close();
  }

  /** Drops the endpoint known (its link closes) and lets the next request ask the route again. */
  #forget(): void {
    this.#endpoint = undefined;
    this.#nextAsk = 0;
  }

  #askSoon(): void {
    const now = performance.now();
    if (this.#closed || this.#asking || now < this.#nextAsk) return;
    this.#asking = true;
    this.#nextAsk = now + ASK_EVERY_MS;
    this.#asked += 1;
    void this.#ask().finally(() => (this.#asking = false));
  }

  async #ask(): Promise<void> {
    const auth = this.#options.auth?.();
    try {
      const reply = await this.#options.broker.request(TASKS_SERVICE, 'tasks.route.request', {}, { timeout: ASK_TIMEOUT_MS, ...(auth === undefined ? {} : { auth }) });
      const route = reply.body as BodyOf<'tasks.route.reply'>;
      this.#coordinator = route.coordinator;
      // The coordinator itself named the endpoint just now: whatever it answered before no longer holds.
      this.#links.forgive(COORDINATOR);
      this.#endpoint = route.endpoint !== undefined && this.#usable(route.endpoint) ? route.endpoint : undefined;
    } catch (error) {
      // An error reply rejects; a non-retryable one (VALIDATION from a server before 1.9) means no route there.
      if (!(error instanceof CorreioError && error.retryable)) this.#nextAsk = performance.now() + ASK_AFTER_REFUSAL_MS;
    }
  }

  /** A loopback or ipc:// address names the client's own machine: right only when the broker is on it too. */
  #usable(endpoint: string): boolean {
    return this.#brokerIsLocal || !LOCAL_ONLY.test(endpoint);
  }
}
