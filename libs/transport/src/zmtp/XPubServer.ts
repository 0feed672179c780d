import { lstatSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { isSubscriptionPrefix } from '../proxy/subscriptionLimits.js';
import type { SubscriptionRefusal } from '../proxy/SubscriptionTable.js';
import { z85Decode } from '../z85.js';
import { publicKeyOf } from './curveBox.js';
import { CurveServerMechanism, type CurveServerKeys } from './CurveServerMechanism.js';
import { encodeMessage } from './framing.js';
import { NullMechanism } from './NullMechanism.js';
import { PrefixIndex } from './PrefixIndex.js';
import { ZmtpConnection, type ConnectionEnd, type ConnectionOptions } from './ZmtpConnection.js';

export interface XPubServerOptions {
  /** `tcp://host:port` (port `*` or 0 for a free one) or `ipc:///path`. */
  readonly endpoint: string;
  /** Largest frame a peer may send (a subscription is 1 + 255 bytes, more with CURVE); a larger one closes its connection. */
  readonly maxFrameBytes: number;
  /** Messages queued per peer; further ones are dropped for that peer. */
  readonly sendHighWaterMark: number;
  /** Subscriptions one connection may hold; further ones are refused. */
  readonly maxSubscriptionsPerConnection: number;
  /** Subscriptions all connections together may hold; further ones are refused. */
  readonly maxSubscriptions: number;
  /** CURVE server: Z85 secret key and, optionally, the client keys admitted. NULL when absent. */
  readonly curve?: { readonly secretKey: string; readonly allow?: Iterable<string> };
  /** A peer that has not completed its handshake by then is cut off. Default 10 s. */
  readonly handshakeTimeoutMs?: number;
  readonly events?: XPubServerEvents;
}

/** What the server tells its owner, synchronously, on its event loop. */
export interface XPubServerEvents {
  /** A prefix got its first holder (`subscribe`) or lost its last: what to ask of publishers. */
  upstream?(subscribe: boolean, prefix: Buffer): void;
  /** A connection took or dropped a prefix. */
  subscription?(prefix: string, subscribed: boolean): void;
  refused?(reason: SubscriptionRefusal, bytes: Buffer, peer: string): void;
  /** A connection ended (after its handshake or not). */
  closed?(end: ConnectionEnd, peer: string, detail?: string): void;
  /** A message not queued for a peer at its high-water mark. */
  dropped?(): void;
  /** The listening socket failed after it was bound (such as accept failing for lack of file descriptors). */
  error?(error: Error): void;
}

/**
 * The subscriber side of an XPUB in JavaScript, over ZMTP 3.1 (NULL or CURVE) on tcp or ipc, so
 * that every subscription is known with its connection: each connection holds at most
 * `maxSubscriptionsPerConnection` valid prefixes, all together at most `maxSubscriptions`, and a
 * connection's prefixes go when it does. Publications reach each connection holding a matching
 * prefix once, through its own bounded queue.
 */
export class XPubServer {
  readonly #options: XPubServerOptions;
  readonly #server: Server;
  readonly #connections = new Set<ZmtpConnection>();
  readonly #index = new PrefixIndex<ZmtpConnection>();
  readonly #curve: CurveServerKeys | undefined;
  readonly #events: XPubServerEvents;
  #subscriptions = 0;
  #publications = 0;
  #endpoint = '';
  #ipcPath: string | undefined;

  constructor(options: XPubServerOptions) {
    for (const name of ['maxFrameBytes', 'maxSubscriptionsPerConnection', 'maxSubscriptions'] as const) {
      if (!Number.isSafeInteger(options[name]) || options[name] < 1) throw new RangeError(`${name} must be a positive integer, got ${options[name]}`);
    }
    this.#options = options;
    this.#events = options.events ?? {};
    if (options.curve) {
      const secretKey = Uint8Array.from(z85Decode(options.curve.secretKey));
      this.#curve = { secretKey, publicKey: publicKeyOf(secretKey), ...(options.curve.allow ? { allow: new Set(options.curve.allow) } : {}) };
    }
    this.#server = createServer((socket) => this.#accept(socket));
  }

  /** Binds; resolves with the endpoint bound (the port filled in). */
  async listen(): Promise<string> {
    const { endpoint } = this.#options;
    const listening = new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.once('listening', () => {
        this.#server.off('error', reject);
        this.#server.on('error', (error) => this.#events.error?.(error));
        resolve();
      });
    });
    if (endpoint.startsWith('ipc://')) {
      const path = endpoint.slice('ipc://'.length);
      removeStaleSocket(path);
      this.#server.listen(path);
      await listening;
      this.#ipcPath = path;
      this.#endpoint = endpoint;
    } else {
      const match = /^tcp:\/\/(.+):(\d+|\*)$/.exec(endpoint);
      if (!match) throw new Error(`cannot listen on ${endpoint}: expected tcp://host:port or ipc:///path`);
      const host = match[1] === '*' ? '0.0.0.0' : match[1]!.replace(/^\[(.*)\]$/, '$1');
      this.#server.listen(match[2] === '*' ? 0 : Number(match[2]), host);
      await listening;
      const address = this.#server.address();
      this.#endpoint = `tcp://${match[1]}:${typeof address === 'object' && address ? address.port : match[2]}`;
    }
    return this.#endpoint;
  }

  get endpoint(): string {
    return this.#endpoint;
  }

  /** Sends a message (its first frame is the topic) to every connection holding a prefix of the topic. */
  publish(frames: readonly Buffer[]): void {
    const stamp = ++this.#publications;
    let plain: Buffer | undefined;
    this.#index.match(frames[0] ?? Buffer.alloc(0), (connection) => {
      if (connection.delivered === stamp) return;
      connection.delivered = stamp;
      const queued = this.#curve ? connection.send(frames) : connection.sendEncoded((plain ??= encodeMessage(frames)));
      if (!queued) this.#events.dropped?.();
    });
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const connection of this.#connections) connection.close('server');
    await closed;
    if (this.#ipcPath) removeStaleSocket(this.#ipcPath);
  }

  /** Connections open now (handshaking or ready). */
  get connections(): number {
    return this.#connections.size;
  }

  /** Subscriptions held, all connections together. */
  get subscriptions(): number {
    return this.#subscriptions;
  }

  /** Distinct prefixes held (what the publishers are asked for). */
  get topics(): number {
    return this.#index.size;
  }

  /** Connections per prefix. */
  entries(): IterableIterator<[string, number]> {
    return this.#index.entries();
  }

  #accept(socket: Socket): void {
    const options: ConnectionOptions = {
      mechanism: this.#curve ? new CurveServerMechanism(this.#curve) : new NullMechanism(),
      maxFrameBytes: this.#options.maxFrameBytes,
      sendHighWaterMark: this.#options.sendHighWaterMark,
      handshakeTimeoutMs: this.#options.handshakeTimeoutMs ?? 10_000,
    };
    this.#connections.add(
      new ZmtpConnection(socket, options, {
        subscription: (connection, subscribe, prefix) => (subscribe ? this.#subscribe(connection, prefix) : this.#cancel(connection, prefix)),
        stray: (connection, first) => this.#events.refused?.('not-a-subscription', first, connection.peer),
        closed: (connection, end, detail) => this.#closed(connection, end, detail),
      }),
    );
  }

  #subscribe(connection: ZmtpConnection, prefix: Buffer): void {
    if (!isSubscriptionPrefix(prefix)) return this.#events.refused?.('invalid-topic', prefix, connection.peer);
    const topic = prefix.toString('latin1');
    if (connection.topics.has(topic)) return; // a SUB sends each prefix once; a repeat changes nothing
    if (connection.topics.size >= this.#options.maxSubscriptionsPerConnection) return this.#events.refused?.('connection-limit', prefix, connection.peer);
    if (this.#subscriptions >= this.#options.maxSubscriptions) return this.#events.refused?.('limit', prefix, connection.peer);
    connection.topics.add(topic);
    this.#subscriptions++;
    if (this.#index.add(topic, connection)) this.#events.upstream?.(true, Buffer.from(prefix));
    this.#events.subscription?.(topic, true);
  }

  #cancel(connection: ZmtpConnection, prefix: Buffer): void {
    const topic = prefix.toString('latin1');
    if (!connection.topics.delete(topic)) return; // never held (refused, or never sent): nothing to undo
    this.#release(connection, topic);
  }

  #release(connection: ZmtpConnection, topic: string): void {
    this.#subscriptions--;
    if (this.#index.remove(topic, connection)) this.#events.upstream?.(false, Buffer.from(topic, 'latin1'));
    this.#events.subscription?.(topic, false);
  }

  #closed(connection: ZmtpConnection, end: ConnectionEnd, detail: string | undefined): void {
    this.#connections.delete(connection);
    for (const topic of connection.topics) this.#release(connection, topic);
    connection.topics.clear();
    this.#events.closed?.(end, connection.peer, detail);
  }
}

/** libzmq takes over an ipc path left by an earlier process; so do we, but only a socket file. */
function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // absent: nothing to remove
  }
}
