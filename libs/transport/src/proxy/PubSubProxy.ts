import * as zmq from 'zeromq';
// Before any socket: raises the default context's socket limit.
import '../socketLimit.js';
import { curveSocketOptions, type CurveServerOptions } from '../curve.js';
import { startMonitor } from '../interrupted.js';
import type { TransportLogger } from '../broker/options.js';
import { printable, ThrottledWarnings } from '../broker/ThrottledWarnings.js';
import { DEFAULT_MAX_SUBSCRIPTIONS, DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION, MAX_SUBSCRIPTION_MESSAGE_BYTES } from './subscriptionLimits.js';
import { SubscriptionTable, type SubscriptionRefusal } from './SubscriptionTable.js';
import { XPubServer } from '../zmtp/XPubServer.js';
import type { ConnectionRefusal } from '../zmtp/ZmtpConnection.js';

/**
 * `native`: libzmq's `zmq_proxy` in a worker thread; nothing crosses into JavaScript, so it is as
 * fast as ZeroMQ gets, but it sees no message. `metered`: a JavaScript forwarding loop that counts
 * messages, bytes and subscriptions per topic. `guarded`: the metered loop, with the subscribers'
 * side served by our own ZMTP implementation (XPubServer) instead of libzmq's XPUB, so every
 * subscription is known with its connection: capped per connection and in total, checked against
 * the topic grammar, and released when its connection closes.
 */
export type ProxyMode = 'native' | 'metered' | 'guarded';

/**
 * What the proxy asks of its publishers. `subscriptions`: it passes its subscribers' topics on, so
 * publishers filter at the source, and every publisher's PUB socket stores every distinct topic
 * passed on. `all`: it subscribes to everything and filters for each subscriber itself, so a
 * publisher stores one subscription whatever subscribers send, and every publication travels to
 * the proxy whether anyone wants it or not.
 */
export type ProxyUpstream = 'subscriptions' | 'all';

export interface ProxyObserver {
  /** Metered mode: a message went from the publishers' side to the subscribers' side. */
  forwarded?(bytes: number): void;
  /** Metered mode: a subscriber (un)subscribed to a topic prefix. */
  subscription?(topic: string, subscribed: boolean): void;
  /** Metered mode: the proxy could not pass a message on. */
  dropped?(direction: 'downstream' | 'upstream'): void;
  /** Metered and guarded modes: a message from a subscriber was kept from the publishers. */
  refused?(reason: SubscriptionRefusal): void;
  /** Guarded mode: a subscriber's connection was cut off, and why. */
  rejected?(reason: ConnectionRefusal): void;
  /** Both modes: a peer went away (or libzmq cut it off, e.g. for a message over the size limit). */
  disconnected?(side: ProxySide): void;
}

/** The publishers' side (XSUB) or the subscribers' side (XPUB). */
export type ProxySide = 'publishers' | 'subscribers';

export interface PubSubProxyOptions {
  /** Where publishers connect their PUB sockets (the proxy's XSUB), such as `tcp://127.0.0.1:5570`. */
  readonly frontend: string;
  /** Where subscribers connect their SUB sockets (the proxy's XPUB), such as `tcp://127.0.0.1:5571`. */
  readonly backend: string;
  /** Default `native`. */
  readonly mode?: ProxyMode;
  /** Default `subscriptions`. */
  readonly upstream?: ProxyUpstream;
  /** Messages queued per subscriber before ZeroMQ drops further ones for it (PUB semantics). Default 10000. */
  readonly sendHighWaterMark?: number;
  /** Messages queued per publisher on the proxy's inbound side. Default 10000. */
  readonly receiveHighWaterMark?: number;
  /** Largest inbound frame from a publisher; a peer sending a larger one is disconnected. Default 1 MiB. */
  readonly maxMessageSize?: number;
  /**
   * Largest inbound message from a subscriber, in bytes (at least 257: a subscription is one byte
   * and a topic of up to 255). libzmq disconnects a peer that sends more before storing any of it.
   * Default MAX_SUBSCRIPTION_MESSAGE_BYTES (512), which leaves room for CURVE.
   */
  readonly maxSubscriptionSize?: number;
  /**
   * Metered mode, upstream `subscriptions`: distinct topics passed on to the publishers at a time
   * (each publisher's PUB socket stores every one); subscriptions beyond it are refused. Default
   * 10,000. Native mode cannot count: libzmq passes every new topic on. Guarded mode: subscriptions
   * held by all connections together (so also the distinct topics passed on).
   */
  readonly maxSubscriptions?: number;
  /** Guarded mode: subscriptions one connection may hold. Default 1,000. */
  readonly maxSubscriptionsPerConnection?: number;
  /** Guarded mode with CURVE: the Z85 public keys of the subscribers admitted (every client when absent). */
  readonly curveAllow?: readonly string[];
  readonly curve?: CurveServerOptions;
  readonly logger?: TransportLogger;
  readonly observer?: ProxyObserver;
}

export interface ProxySnapshot {
  readonly mode: ProxyMode;
  readonly state: 'created' | 'running' | 'closed';
  /** Metered mode only (0 in native mode). */
  readonly messages: number;
  readonly bytes: number;
  readonly dropped: number;
  readonly topics: number;
  readonly subscriptions: number;
  /** Metered mode: distinct topics passed on to the publishers now. */
  readonly forwarded: number;
  /** Metered mode: messages from subscribers kept from the publishers. */
  readonly refused: number;
}

/** The subscription to every topic. */
const EVERYTHING = Buffer.from([1]);

/**
 * The pub/sub proxy of protocol/FRAMES.md §3: publishers connect PUB to its XSUB side,
 * subscribers connect SUB to its XPUB side; subscriptions flow upstream so publishers filter at
 * the source (or, with upstream `all`, the proxy filters and publishers hold one subscription).
 * Nothing blocks a publisher: a slow subscriber loses messages at its own high-water mark and sees
 * sequence gaps. What a hostile subscriber can make it hold: docs/architecture.md, "Sockets facing peers".
 */
export class PubSubProxy {
  readonly #options: PubSubProxyOptions;
  readonly #mode: ProxyMode;
  readonly #xsub: zmq.XSubscriber;
  readonly #upstream: ProxyUpstream;
  /** The subscribers' side: an XPUB, or in native mode with upstream `all` a PUB, which keeps subscriptions to itself; our own server in guarded mode. */
  readonly #xpub: zmq.XPublisher | zmq.Publisher | XPubServer;
  readonly #subscriptions: SubscriptionTable;
  readonly #warnings: ThrottledWarnings<SubscriptionRefusal>;
  #state: ProxySnapshot['state'] = 'created';
  #native: zmq.Proxy<zmq.XSubscriber, zmq.XPublisher | zmq.Publisher> | undefined;
  #loops: Promise<unknown> | undefined;
  #messages = 0;
  #bytes = 0;
  #dropped = 0;
  #refused = 0;
  #frontendEndpoint = '';
  #backendEndpoint = '';

  constructor(options: PubSubProxyOptions) {
    this.#options = options;
    this.#mode = options.mode ?? 'native';
    this.#upstream = options.upstream ?? 'subscriptions';
    const security = options.curve ? curveSocketOptions(options.curve) : {};
    const maxMessageSize = options.maxMessageSize ?? 1_048_576;
    const maxSubscriptionSize = options.maxSubscriptionSize ?? MAX_SUBSCRIPTION_MESSAGE_BYTES;
    // libzmq's sockets in the other modes have no ZAP handler here to apply a list to.
    if (options.curveAllow && this.#mode !== 'guarded') throw new Error(`a CURVE allow-list (curveAllow) needs guarded mode, not ${this.#mode}`);
    if (options.curveAllow && !options.curve) throw new Error('a CURVE allow-list (curveAllow) needs a CURVE secret key');
    if (!Number.isSafeInteger(maxSubscriptionSize) || maxSubscriptionSize < 257) throw new RangeError(`maxSubscriptionSize must be an integer of at least 257 (a subscription to a 255-byte topic), got ${maxSubscriptionSize}`);
    // With upstream `all` nothing reaches the publishers, so there is nothing to limit.
    this.#subscriptions = new SubscriptionTable(this.#upstream === 'all' ? Number.MAX_SAFE_INTEGER : (options.maxSubscriptions ?? DEFAULT_MAX_SUBSCRIPTIONS));
    this.#warnings = new ThrottledWarnings(options.logger);
    const sendHighWaterMark = options.sendHighWaterMark ?? 10_000;
    const receiveHighWaterMark = options.receiveHighWaterMark ?? 10_000;
    this.#xsub = new zmq.XSubscriber({ maxMessageSize, receiveHighWaterMark, sendHighWaterMark, linger: 0, sendTimeout: 0, ...security });
    // A subscriber only ever sends subscriptions, so its side takes nothing larger than one.
    const subscriberSide = { maxMessageSize: maxSubscriptionSize, sendHighWaterMark, linger: 0, sendTimeout: 0, ...security };
    if (this.#mode === 'guarded') this.#xpub = this.#guardedFront(maxSubscriptionSize, sendHighWaterMark);
    else if (this.#mode === 'native' && this.#upstream === 'all') this.#xpub = new zmq.Publisher(subscriberSide);
    else {
      const xpub = new zmq.XPublisher({ ...subscriberSide, receiveHighWaterMark });
      // Every subscriber's (un)subscription reaches the loop, so the table counts subscribers.
      if (this.#mode === 'metered') xpub.verbosity = 'allSubsUnsubs';
      this.#xpub = xpub;
    }
    // The monitors attach now, on this thread, before native mode hands the sockets to zmq_proxy.
    void this.#watch(this.#xsub, 'publishers');
    if (!(this.#xpub instanceof XPubServer)) void this.#watch(this.#xpub, 'subscribers');
  }

  /** Guarded mode's subscribers' side: subscriptions are counted, capped and passed on from its events. */
  #guardedFront(maxFrameBytes: number, sendHighWaterMark: number): XPubServer {
    const { observer, curve } = this.#options;
    const warnings = new ThrottledWarnings<ConnectionRefusal>(this.#options.logger);
    return new XPubServer({
      endpoint: this.#options.backend,
      maxFrameBytes,
      sendHighWaterMark,
      maxSubscriptionsPerConnection: this.#options.maxSubscriptionsPerConnection ?? DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION,
      maxSubscriptions: this.#options.maxSubscriptions ?? DEFAULT_MAX_SUBSCRIPTIONS,
      ...(curve ? { curve: { secretKey: curve.secretKey, ...(this.#options.curveAllow ? { allow: this.#options.curveAllow } : {}) } } : {}),
      events: {
        upstream: (subscribe, prefix) => {
          if (this.#upstream === 'subscriptions') this.#forward(this.#xsub, [Buffer.concat([Buffer.from([subscribe ? 1 : 0]), prefix])], 'upstream');
        },
        subscription: (topic, subscribed) => observer?.subscription?.(topic, subscribed),
        refused: (reason, bytes, peer) => this.#refuse(reason, bytes, peer),
        dropped: () => this.#drop('downstream'),
        error: (error) => this.#options.logger?.error({ err: error }, 'subscriber side failed'),
        closed: (end, peer, detail) => {
          observer?.disconnected?.('subscribers');
          if (end === 'peer' || end === 'server') return;
          observer?.rejected?.(end);
          warnings.warn(end, { reason: end, peer, detail }, 'subscriber connection refused');
        },
      },
    });
  }

  get mode(): ProxyMode {
    return this.#mode;
  }

  /** The bound publisher-side endpoint. */
  get frontend(): string {
    return this.#frontendEndpoint;
  }

  /** The bound subscriber-side endpoint. */
  get backend(): string {
    return this.#backendEndpoint;
  }

  async start(): Promise<void> {
    if (this.#state !== 'created') throw new Error(`proxy cannot start: it is ${this.#state}`);
    try {
      await this.#xsub.bind(this.#options.frontend);
      if (this.#xpub instanceof XPubServer) this.#backendEndpoint = await this.#xpub.listen();
      else {
        await this.#xpub.bind(this.#options.backend);
        this.#backendEndpoint = this.#xpub.lastEndpoint ?? this.#options.backend;
      }
    } catch (error) {
      this.#xsub.close();
      await this.#xpub.close();
      this.#state = 'closed';
      throw error;
    }
    this.#frontendEndpoint = this.#xsub.lastEndpoint ?? this.#options.frontend;
    this.#state = 'running';
    // Stored by the XSUB and sent to each publisher as it connects.
    if (this.#upstream === 'all') await this.#xsub.send(EVERYTHING);
    if (this.#mode === 'native' && !(this.#xpub instanceof XPubServer)) {
      this.#native = new zmq.Proxy(this.#xsub, this.#xpub);
      this.#loops = this.#native.run().catch((error: unknown) => this.#options.logger?.error({ err: error }, 'proxy stopped'));
    } else {
      this.#loops = Promise.all([this.#downstream(), this.#xpub instanceof zmq.XPublisher ? this.#fromSubscribers(this.#xpub) : undefined]);
    }
    this.#options.logger?.info({ mode: this.#mode, frontend: this.#frontendEndpoint, backend: this.#backendEndpoint }, 'proxy listening');
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasRunning = this.#state === 'running';
    this.#state = 'closed';
    if (this.#native) this.#native.terminate();
    else {
      this.#xsub.close();
      await this.#xpub.close();
    }
    if (wasRunning) await this.#loops;
  }

  snapshot(): ProxySnapshot {
    return {
      mode: this.#mode,
      state: this.#state,
      messages: this.#messages,
      bytes: this.#bytes,
      dropped: this.#dropped,
      topics: this.#xpub instanceof XPubServer ? this.#xpub.topics : this.#subscriptions.topics,
      subscriptions: this.#xpub instanceof XPubServer ? this.#xpub.subscriptions : this.#subscriptions.subscriptions,
      forwarded: this.#upstream === 'all' ? 1 : this.#xpub instanceof XPubServer ? this.#xpub.topics : this.#subscriptions.forwarded,
      refused: this.#refused,
    };
  }

  /** Subscribers per topic prefix (metered mode; connections per prefix in guarded mode). */
  subscriptions(): IterableIterator<[string, number]> {
    return this.#xpub instanceof XPubServer ? this.#xpub.entries() : this.#subscriptions.entries();
  }

  /** Publishers → subscribers. */
  async #downstream(): Promise<void> {
    const observer = this.#options.observer;
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await this.#xsub.receive();
      } catch (error) {
        if (this.#xsub.closed) return;
        this.#options.logger?.error({ err: error }, 'proxy receive failed');
        continue;
      }
      let bytes = 0;
      for (const frame of frames) bytes += frame.length;
      if (this.#xpub instanceof XPubServer) this.#xpub.publish(frames);
      if (this.#xpub instanceof XPubServer || this.#forward(this.#xpub, frames, 'downstream')) {
        this.#messages++;
        this.#bytes += bytes;
        observer?.forwarded?.(bytes);
      }
    }
  }

  /** Subscribers' (un)subscriptions → publishers (with upstream `subscriptions`). */
  async #fromSubscribers(xpub: zmq.XPublisher): Promise<void> {
    const observer = this.#options.observer;
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await xpub.receive();
      } catch (error) {
        if (xpub.closed) return;
        this.#options.logger?.error({ err: error }, 'proxy receive failed');
        continue;
      }
      const verdict = this.#subscriptions.apply(frames);
      if (verdict.action === 'refuse') this.#refuse(verdict.reason, verdict.bytes);
      else if (verdict.action !== 'ignore') observer?.subscription?.(verdict.topic, verdict.subscribed);
      if (verdict.action === 'forward' && this.#upstream === 'subscriptions') this.#forward(this.#xsub, frames, 'upstream');
    }
  }

  #refuse(reason: SubscriptionRefusal, bytes: Buffer, peer?: string): void {
    this.#refused++;
    this.#options.observer?.refused?.(reason);
    const why = {
      'invalid-topic': 'not a topic prefix (printable ASCII, at most 255 bytes)',
      limit: this.#mode === 'guarded' ? 'the proxy holds its limit of subscriptions already' : 'the proxy passes on its limit of distinct topics already',
      'connection-limit': 'the connection holds its limit of subscriptions already',
      'not-a-subscription': 'not a subscription',
    }[reason];
    this.#warnings.warn(reason, { reason, message: printable(bytes), ...(peer ? { peer } : {}) }, `subscription refused: ${why}`);
  }

  /** Counts disconnections (libzmq reports a peer cut off for an oversized message as one). */
  async #watch(socket: zmq.XPublisher | zmq.Publisher | zmq.XSubscriber, side: ProxySide): Promise<void> {
    try {
      for await (const event of startMonitor(socket)) if (event.type === 'disconnect') this.#options.observer?.disconnected?.(side);
    } catch (error) {
      if (this.#state !== 'closed') this.#options.logger?.warn({ err: error, side }, 'socket monitor stopped');
    }
  }

  #forward(socket: zmq.XPublisher | zmq.Publisher | zmq.XSubscriber, frames: Buffer[], direction: 'downstream' | 'upstream'): boolean {
    if (socket.closed) return false;
    try {
      // XPUB drops per subscriber at its high-water mark instead of blocking; a failure here is rare.
      socket.send(frames).catch(() => this.#drop(direction));
      return true;
    } catch {
      this.#drop(direction);
      return false;
    }
  }

  #drop(direction: 'downstream' | 'upstream'): void {
    this.#dropped++;
    this.#options.observer?.dropped?.(direction);
  }
}
