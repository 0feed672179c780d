import { CorreioError } from '@correio/codec';
import type { AnyEnvelope, BodyOf, MessageType } from '@correio/protocol';
import { DirectLinks, type DirectLinksStats } from './DirectLinks.js';
import { isLocalOnlyEndpoint } from './localEndpoint.js';
import type { RequestClient, RequestOptions } from './RequestClient.js';
import { nextRequestId } from './requestIds.js';
import type { SocketOptions } from './SocketOptions.js';
import type { Stamp } from './Stamp.js';

/** Where a service is served directly now: the server, and its direct endpoint if it has one. */
export interface RouteAnswer {
  readonly server?: string;
  readonly endpoint?: string;
}

export interface DirectRouteOptions {
  /** The client's broker connection: requests go there whenever no direct link is up. */
  readonly broker: Pick<RequestClient, 'request'>;
  /** The broker's endpoint(s): a loopback or ipc:// direct endpoint is used only when these are local too. */
  readonly brokerEndpoints: string | readonly string[];
  /** The service the requests are for, under the same name on the broker and on the direct endpoint. */
  readonly service: string;
  /**
   * Asks where the service is served directly (through the broker, in the background, never before
   * a request). A non-retryable error means the cluster cannot say (a server before the revision
   * that answers it): asked again a minute later. `failed` names the server whose link just failed
   * (dropped, stalled, refused): pick another if there is one.
   */
  readonly find: (after: { readonly failed?: string }) => Promise<RouteAnswer>;
  readonly stamp?: Stamp;
  readonly socket?: SocketOptions;
}

export interface DirectRouteStats extends DirectLinksStats {
  /** The server the latest answer named, and its direct endpoint if it gave a usable one. */
  readonly server?: string;
  readonly endpoint?: string;
  /** Questions asked (`find`). */
  readonly asked: number;
}

/** Least ms between two questions while no link is up (one per client, whatever its traffic). */
const ASK_EVERY_MS = 1_000;
/** After a question that failed, the next waits twice as long, up to this; after a non-retryable refusal, this at once. */
const ASK_AT_MOST_EVERY_MS = 60_000;
/** The one DirectLinks destination: the server the route names. */
const ROUTED = 'routed';

/**
 * A client's requests to one service: straight to the direct endpoint of the server `find` names
 * (FRAMES.md section 1.11) while a connection there is up, through the broker otherwise. The broker
 * stays the path while the route is unknown or the link down; a request the endpoint refuses
 * (UNKNOWN_SERVICE: it no longer serves it; OVERLOADED) goes through the broker at once, and one that
 * fails on the link (it dropped, UNAVAILABLE; or no answer in time: a stalled server) is sent again
 * through the broker under the same id, and the route is asked again.
 */
export class DirectRoute {
  readonly #options: DirectRouteOptions;
  readonly #links: DirectLinks;
  readonly #brokerIsLocal: boolean;
  #server: string | undefined;
  #endpoint: string | undefined;
  #nextAsk = 0;
  /** Ms to wait after the next failed question. */
  #askBackoff = ASK_EVERY_MS;
  #failed: string | undefined;
  #asking = false;
  #asked = 0;
  #closed = false;

  constructor(options: DirectRouteOptions) {
    this.#options = options;
    const brokers = typeof options.brokerEndpoints === 'string' ? [options.brokerEndpoints] : options.brokerEndpoints;
    this.#brokerIsLocal = brokers.every(isLocalOnlyEndpoint);
    this.#links = new DirectLinks({
      broker: options.broker,
      endpointOf: () => this.#endpoint,
      ...(options.stamp ? { stamp: options.stamp } : {}),
      ...(options.socket ? { socket: options.socket } : {}),
      ...(options.socket?.logger ? { logger: options.socket.logger } : {}),
      // That server no longer serves it: ask where it is served now.
      onMisdirected: () => this.#forget(),
    });
  }

  get stats(): DirectRouteStats {
    return {
      ...this.#links.stats,
      asked: this.#asked,
      ...(this.#server === undefined ? {} : { server: this.#server }),
      ...(this.#endpoint === undefined ? {} : { endpoint: this.#endpoint }),
    };
  }

  /** Sends one request; resolves or rejects as RequestClient.request does. */
  async request<T extends MessageType>(type: T, body: BodyOf<T>, options: RequestOptions = {}): Promise<AnyEnvelope> {
    const direct = this.#links.connected(ROUTED);
    if (!direct) this.#askSoon();
    // One id for both paths: the server de-duplicates a request the link delivered before it failed.
    const attempt = options.id === undefined ? { ...options, id: nextRequestId() } : options;
    try {
      // Through the broker when the link is not up (DirectLinks opens it in the background).
      return await this.#links.request(ROUTED, this.#options.service, type, body, attempt);
    } catch (error) {
      const code = error instanceof CorreioError ? error.code : undefined;
      if (!direct || (code !== 'UNAVAILABLE' && code !== 'TIMEOUT') || options.signal?.aborted || this.#closed) throw error;
      // The link dropped, the server is stopping or catching up, or it stalls (the broker notices a
      // stalled worker): the broker, and the route asked again.
      this.#forget();
      return this.#options.broker.request(this.#options.service, type, body, attempt);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#links.close();
  }

  /** Drops the endpoint known (its link closes) and asks again now, saying that server failed. */
  #forget(): void {
    this.#failed = this.#server;
    this.#endpoint = undefined;
    this.#nextAsk = 0;
    this.#askSoon();
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
    try {
      const failed = this.#failed;
      this.#failed = undefined;
      const answer = await this.#options.find(failed === undefined ? {} : { failed });
      this.#server = answer.server;
      this.#endpoint = answer.endpoint !== undefined && this.#usable(answer.endpoint) ? answer.endpoint : undefined;
      // Named just now: whatever that endpoint answered before no longer holds.
      this.#links.forgive(ROUTED);
      this.#askBackoff = ASK_EVERY_MS;
    } catch (error) {
      // Nobody answers (no reference server, a coordinator failing over) or the question is not known here.
      const retryable = error instanceof CorreioError && error.retryable;
      this.#askBackoff = retryable ? Math.min(ASK_AT_MOST_EVERY_MS, this.#askBackoff * 2) : ASK_AT_MOST_EVERY_MS;
      this.#nextAsk = performance.now() + this.#askBackoff;
    }
  }

  /** A loopback or ipc:// address names the client's own machine: right only when the broker is on it too. */
  #usable(endpoint: string): boolean {
    return this.#brokerIsLocal || !isLocalOnlyEndpoint(endpoint);
  }
}
