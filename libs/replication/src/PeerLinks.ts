import type { AnyEnvelope, BodyOf, MessageType } from '@correio/protocol';
import { DirectLinks, type DirectLinksStats, type RequestClient, type RequestOptions, type SocketOptions, type Stamp } from '@correio/transport';
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

export type PeerLinksStats = DirectLinksStats;

/**
 * Requests to other servers' `srv.<peer>` service: on a direct DEALER to the peer's own endpoint
 * when it listed one and the connection is up, otherwise through the broker (DirectLinks). A peer
 * whose listed endpoint answers it does not serve `srv.<peer>` is reached through the broker until
 * the list changes.
 */
export class PeerLinks {
  readonly #links: DirectLinks;

  constructor(options: PeerLinksOptions) {
    this.#links = new DirectLinks(options);
  }

  get stats(): PeerLinksStats {
    return this.#links.stats;
  }

  /** Sends `type` to `srv.<peer>`; resolves or rejects as RequestClient.request does. */
  request<T extends MessageType>(peer: string, type: T, body: BodyOf<T>, options: RequestOptions = {}): Promise<AnyEnvelope> {
    return this.#links.request(peer, serverService(peer), type, body, options);
  }

  /** Closes every link; requests in flight on them fail as UNAVAILABLE. */
  close(): Promise<void> {
    return this.#links.close();
  }
}
