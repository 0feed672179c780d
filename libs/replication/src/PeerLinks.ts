import type { AnyEnvelope, BodyOf, MessageType } from '@correio/protocol';
import { CorreioError } from '@correio/codec';
import { RequestClient, type RequestOptions, type SocketOptions, type Stamp } from '@correio/transport';
import { serverService } from './PeerTransport.js';

export interface PeerLinksOptions {
  /** Requests through the broker: every request when a peer has no link, or its link is not connected. */
  readonly broker: Pick<RequestClient, 'request'>;
  /** The peer's direct endpoint as the reference server lists it (revision 1.8), if it registered one. */
  readonly endpointOf: (peer: string) => string | undefined;
  /** Stamps the links' requests and observes their replies: the server's one clock. */
  readonly stamp: Stamp;
  /** Socket options of the links (limits, logger). */
  readonly socket?: SocketOptions;
  readonly logger?: SocketOptions['logger'];
}

export interface PeerLinksStats {
  /** Requests sent on a direct link. */
  readonly direct: number;
  /** Requests sent through the broker. */
  readonly viaBroker: number;
  /** Direct requests answered UNKNOWN_SERVICE (the endpoint is not that peer's), then sent through the broker. */
  readonly misdirected: number;
  /** Open links. */
  readonly links: number;
}

interface Link {
  readonly endpoint: string;
  readonly client: RequestClient;
}

/** Requests between two prunes of links whose peer left the list or moved. */
const PRUNE_EVERY = 1_000;
/** Only these can be a server's direct endpoint: a listed address must not make a server connect anywhere else. */
const LINKABLE = /^(tcp|ipc):\/\/[\x21-\x7e]{1,250}$/;

/**
 * Requests to other servers' `srv.<peer>` service: on a direct DEALER to the peer's own endpoint
 * when it listed one and the connection is up, otherwise through the broker. A direct request
 * saves two socket hops and the broker's work; the broker stays the path whenever the link is down,
 * not yet connected, or reaches something that does not serve that peer.
 */
export class PeerLinks {
  readonly #options: PeerLinksOptions;
  readonly #links = new Map<string, Link>();
  /** Per peer, a listed endpoint that answered it does not serve that peer: not linked again until the list changes. */
  readonly #refused = new Map<string, string>();
  readonly #stats = { direct: 0, viaBroker: 0, misdirected: 0 };
  #sincePrune = 0;
  #closed = false;

  constructor(options: PeerLinksOptions) {
    this.#options = options;
  }

  get stats(): PeerLinksStats {
    return { ...this.#stats, links: this.#links.size };
  }

  /** Sends `type` to `srv.<peer>`; resolves or rejects as RequestClient.request does. */
  async request<T extends MessageType>(peer: string, type: T, body: BodyOf<T>, options: RequestOptions = {}): Promise<AnyEnvelope> {
    const service = serverService(peer);
    const link = this.#linkTo(peer);
    if (link?.client.connected) {
      this.#stats.direct += 1;
      try {
        return await link.client.request(service, type, body, options);
      } catch (error) {
        if (!(error instanceof CorreioError && error.code === 'UNKNOWN_SERVICE')) throw error;
        this.#stats.misdirected += 1;
        this.#options.logger?.warn({ peer, endpoint: link.endpoint }, 'the direct endpoint listed for this server does not serve it; using the broker');
        this.#refused.set(peer, link.endpoint);
        this.#drop(peer);
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

  /** The link to `peer` at its listed endpoint, opened (it connects in the background) or replaced as the list says. */
  #linkTo(peer: string): Link | undefined {
    if (this.#closed) return undefined;
    if (++this.#sincePrune >= PRUNE_EVERY) this.#prune();
    const endpoint = this.#options.endpointOf(peer);
    const link = this.#links.get(peer);
    if (link !== undefined && link.endpoint === endpoint) return link;
    if (link !== undefined) this.#drop(peer);
    if (endpoint === undefined || !LINKABLE.test(endpoint)) return undefined;
    if (this.#refused.has(peer)) {
      if (this.#refused.get(peer) === endpoint) return undefined;
      this.#refused.delete(peer);
    }
    try {
      const opened: Link = { endpoint, client: new RequestClient({ ...this.#options.socket, endpoint, failOnDisconnect: true, stamp: this.#options.stamp, ...(this.#options.logger ? { logger: this.#options.logger } : {}) }) };
      this.#links.set(peer, opened);
      return opened;
    } catch (error) {
      // An endpoint ZeroMQ refuses (a listed address is anyone's word): the broker it is.
      this.#options.logger?.warn({ err: error, peer, endpoint }, 'cannot connect to the direct endpoint listed for this server; using the broker');
      return undefined;
    }
  }

  #prune(): void {
    this.#sincePrune = 0;
    for (const [peer, link] of this.#links) if (this.#options.endpointOf(peer) !== link.endpoint) this.#drop(peer);
  }

  #drop(peer: string): void {
    const link = this.#links.get(peer);
    if (link === undefined) return;
    this.#links.delete(peer);
    link.client.close().catch((error: unknown) => this.#options.logger?.warn({ err: error, peer }, 'closing a direct link failed'));
  }
}
