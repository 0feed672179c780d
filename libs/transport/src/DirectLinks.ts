import type { AnyEnvelope, BodyOf, MessageType } from '@correio/protocol';
import { CorreioError } from '@correio/codec';
import { RequestClient, type RequestOptions } from './RequestClient.js';
import type { SocketOptions } from './SocketOptions.js';
import type { Stamp } from './Stamp.js';

export interface DirectLinksOptions {
  /** Requests through the broker: every request to a destination without a connected link. */
  readonly broker: Pick<RequestClient, 'request'>;
  /** The direct endpoint of a destination (a server id, a role such as the task coordinator), if it has one now. */
  readonly endpointOf: (destination: string) => string | undefined;
  /** Stamps the links' requests and observes their replies. Default: each link its own LamportStamp. */
  readonly stamp?: Stamp;
  /** Socket options of the links (limits, logger). */
  readonly socket?: SocketOptions;
  readonly logger?: SocketOptions['logger'];
  /** Told when a destination's endpoint answered that it does not serve the service asked (it moved). */
  readonly onMisdirected?: (destination: string, endpoint: string) => void;
}

export interface DirectLinksStats {
  /** Requests sent on a direct link. */
  readonly direct: number;
  /** Requests sent through the broker. */
  readonly viaBroker: number;
  /** Direct requests answered UNKNOWN_SERVICE (the endpoint does not serve it), then sent through the broker. */
  readonly misdirected: number;
  /** Direct requests answered OVERLOADED (the endpoint's concurrency was taken), then sent through the broker. */
  readonly overflowed: number;
  /** Open links. */
  readonly links: number;
}

interface Link {
  readonly endpoint: string;
  readonly client: RequestClient;
}

/** Requests between two prunes of links whose destination moved or went. */
const PRUNE_EVERY = 1_000;
/** Only these are ever connected to: an endpoint read from a list or a reply must not make a process connect anywhere else. */
const LINKABLE = /^(tcp|ipc):\/\/[\x21-\x7e]{1,250}$/;

/**
 * Requests to a service on a direct DEALER to its server's own endpoint (FRAMES.md section 1.11)
 * while that connection is up, and through the broker otherwise. A direct request saves two socket
 * hops and the broker's work; the broker stays the path whenever the link is down, not yet
 * connected, full (OVERLOADED), or reaches something that does not serve the service asked.
 */
export class DirectLinks {
  readonly #options: DirectLinksOptions;
  readonly #links = new Map<string, Link>();
  /** Per destination, an endpoint that answered it does not serve it: not linked again until endpointOf changes. */
  readonly #refused = new Map<string, string>();
  readonly #stats = { direct: 0, viaBroker: 0, misdirected: 0, overflowed: 0 };
  #sincePrune = 0;
  #closed = false;

  constructor(options: DirectLinksOptions) {
    this.#options = options;
  }

  get stats(): DirectLinksStats {
    return { ...this.#stats, links: this.#links.size };
  }

  /** True while requests to `destination` go on a connected direct link. */
  connected(destination: string): boolean {
    const link = this.#links.get(destination);
    return link !== undefined && link.endpoint === this.#options.endpointOf(destination) && link.client.connected;
  }

  /** Forgets that `destination`'s endpoint refused it: fresh news says it serves there (again). */
  forgive(destination: string): void {
    this.#refused.delete(destination);
  }

  /** Sends `type` to `service` at `destination`; resolves or rejects as RequestClient.request does. */
  async request<T extends MessageType>(destination: string, service: string, type: T, body: BodyOf<T>, options: RequestOptions = {}): Promise<AnyEnvelope> {
    const link = this.#linkTo(destination);
    if (link?.client.connected) {
      this.#stats.direct += 1;
      try {
        return await link.client.request(service, type, body, options);
      } catch (error) {
        const code = error instanceof CorreioError ? error.code : undefined;
        if (code === 'OVERLOADED') {
          this.#stats.overflowed += 1;
        } else if (code === 'UNKNOWN_SERVICE') {
          this.#stats.misdirected += 1;
          this.#options.logger?.warn({ destination, service, endpoint: link.endpoint }, 'the direct endpoint does not serve this; using the broker');
          this.#refused.set(destination, link.endpoint);
          this.#drop(destination);
          this.#options.onMisdirected?.(destination, link.endpoint);
        } else {
          throw error;
        }
      }
    }
    this.#stats.viaBroker += 1;
    return this.#options.broker.request(service, type, body, options);
  }

  /** Closes every link; requests in flight on them fail as UNAVAILABLE. */
  async close(): Promise<void> {
    this.#closed = true;
    const closing = [...this.#links.values()].map((link) => link.client.close());
    this.#links.clear();
    await Promise.allSettled(closing);
  }

  /** The link to `destination` at its endpoint, opened (it connects in the background) or replaced as endpointOf says. */
  #linkTo(destination: string): Link | undefined {
    if (this.#closed) return undefined;
    if (++this.#sincePrune >= PRUNE_EVERY) this.#prune();
    const endpoint = this.#options.endpointOf(destination);
    const link = this.#links.get(destination);
    if (link !== undefined && link.endpoint === endpoint) return link;
    if (link !== undefined) this.#drop(destination);
    if (endpoint === undefined || !LINKABLE.test(endpoint)) return undefined;
    if (this.#refused.has(destination)) {
      if (this.#refused.get(destination) === endpoint) return undefined;
      this.#refused.delete(destination);
    }
    try {
      const client = new RequestClient({
        ...this.#options.socket,
        endpoint,
        failOnDisconnect: true,
        ...(this.#options.stamp ? { stamp: this.#options.stamp } : {}),
        ...(this.#options.logger ? { logger: this.#options.logger } : {}),
      });
      const opened: Link = { endpoint, client };
      this.#links.set(destination, opened);
      return opened;
    } catch (error) {
      // An endpoint ZeroMQ refuses (an advertised address is anyone's word): the broker it is.
      this.#options.logger?.warn({ err: error, destination, endpoint }, 'cannot connect to the direct endpoint; using the broker');
      return undefined;
    }
  }

  #prune(): void {
    this.#sincePrune = 0;
    for (const [destination, link] of this.#links) if (this.#options.endpointOf(destination) !== link.endpoint) this.#drop(destination);
  }

  #drop(destination: string): void {
    const link = this.#links.get(destination);
    if (link === undefined) return;
    this.#links.delete(destination);
    link.client.close().catch((error: unknown) => this.#options.logger?.warn({ err: error, destination }, 'closing a direct link failed'));
  }
}
