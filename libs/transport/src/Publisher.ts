import { MessageCodec, OverloadedError } from '@correio/codec';
import { PROTOCOL_VERSION, type BodyOf, type Envelope, type MessageType } from '@correio/protocol';
import { randomBytes } from 'node:crypto';
import type { Fifo } from './Fifo.js';
import type { Frame } from './frames.js';
import { componentLogger } from '@correio/observability';
import { ManagedSocket, type SocketStats } from './ManagedSocket.js';
import { encodePublicationHeader, MAX_BATCH, MAX_BATCH_BYTES } from './publicationHeader.js';
import { MAX_SUBSCRIPTION_MESSAGE_BYTES } from './proxy/subscriptionLimits.js';
import type { SocketEventMap } from './socketEvents.js';
import type { SocketOptions } from './SocketOptions.js';
import { defaultSenderId, LamportStamp, type Stamp } from './Stamp.js';
import { nextRequestId } from './requestIds.js';
import { isTopic } from './topic.js';
import type { TypedEvents } from './TypedEvents.js';

export interface PublisherOptions extends SocketOptions {
  readonly stamp?: Stamp;
  readonly from?: string;
  /**
   * The id written into every header (`p`). Defaults to the sender id plus a random suffix, so a
   * restarted publisher is a new stream rather than one whose sequence numbers went backwards.
   */
  readonly publisherId?: string;
  /**
   * Pack consecutive same-topic publications that queued up while a send was pending into one
   * message, up to `maxBatch` bodies (default 64, at most 1000) and 1 MiB. Off by default.
   */
  readonly batching?: boolean | { readonly maxBatch?: number };
  /**
   * Topics whose sequence numbers are kept. Topics can follow names clients choose (a chat
   * server's `user/<name>/`), so beyond this the least recently used topic is forgotten; publishing
   * on it again starts at 1, which subscribers take as a publisher restart (FRAMES.md §3.4), not a
   * gap. Default 100,000.
   */
  readonly maxTopics?: number;
}

export interface PublisherStats {
  /** Publications accepted. */
  readonly published: number;
  /** ZeroMQ messages built (fewer than publications when batching). */
  readonly messages: number;
  readonly socket: SocketStats;
}

interface Publication {
  readonly topic: string;
  readonly seq: number;
  readonly body: Uint8Array;
}

/**
 * Publishes envelopes on a PUB socket as [topic, header, bodies] messages (bodies: one envelope,
 * or a batch of them back to back), numbering them per topic from 1 so subscribers can detect what
 * a slow link dropped. `publish` never blocks: it queues (throwing OverloadedError when the
 * bounded queue is full) and ZeroMQ sends in order.
 */
export class Publisher {
  readonly id: string;
  readonly #socket: ManagedSocket<Publication>;
  readonly #codec: MessageCodec;
  readonly #stamp: Stamp;
  /** Last sequence number per topic, least recently used first (bounded by maxTopics). */
  readonly #sequences = new Map<string, number>();
  readonly #maxTopics: number;
  readonly #maxBatch: number;
  #published = 0;
  #messages = 0;

  constructor(options: PublisherOptions = {}) {
    const log = componentLogger('publisher', options.logger);
    this.#stamp = options.stamp ?? new LamportStamp(options.from ?? defaultSenderId('pub'));
    this.id = options.publisherId ?? `${this.#stamp.from.slice(0, 110)}~${randomBytes(6).toString('base64url')}`;
    this.#codec = new MessageCodec(options.limits ? { limits: options.limits } : {});
    const batching = options.batching ?? false;
    this.#maxTopics = options.maxTopics ?? 100_000;
    if (!Number.isSafeInteger(this.#maxTopics) || this.#maxTopics < 1) throw new RangeError('maxTopics must be a positive integer');
    this.#maxBatch = batching === false ? 1 : batching === true ? 64 : (batching.maxBatch ?? 64);
    if (!Number.isSafeInteger(this.#maxBatch) || this.#maxBatch < 1 || this.#maxBatch > MAX_BATCH) throw new RangeError(`maxBatch must be an integer from 1 to ${MAX_BATCH}`);
    // A PUB socket receives nothing but subscriptions, and stores each one: take none larger than one.
    const maxMessageSize = options.maxMessageSize ?? MAX_SUBSCRIPTION_MESSAGE_BYTES;
    this.#socket = new ManagedSocket<Publication>('pub', { ...options, maxMessageSize, logger: log }, (queue) => this.#frames(queue));
  }

  get events(): TypedEvents<SocketEventMap> {
    return this.#socket.events;
  }

  get stats(): PublisherStats {
    return { published: this.#published, messages: this.#messages, socket: this.#socket.stats };
  }

  bind(endpoint: string): Promise<string> {
    return this.#socket.bind(endpoint);
  }

  /** Connects to a proxy's XSUB side (or a SUB that binds). */
  connect(endpoint: string): void {
    this.#socket.connect(endpoint);
  }

  /**
   * Publishes one envelope of `type` on `topic` and returns its sequence number. Throws
   * ValidationError for a body that does not match its schema (no sequence number is used) and
   * OverloadedError when the send queue is full: that one uses its number, so subscribers see the
   * refused publication as a gap and read what they missed by request (FRAMES.md §3.4), as for any
   * other loss on the way.
   */
  publish<T extends MessageType>(topic: string, type: T, body: BodyOf<T>, options: { readonly id?: string } = {}): number {
    // A topic already numbered was validated when first used.
    const last = this.#sequences.get(topic);
    if (last === undefined && !isTopic(topic)) throw new RangeError(`invalid topic ${JSON.stringify(topic)}: printable segments, each followed by '/'`);
    const { lc, ts } = this.#stamp.tick();
    const envelope: Envelope<T> = { v: PROTOCOL_VERSION, type, id: options.id ?? nextRequestId(), from: this.#stamp.from, lc, ts, body };
    const bytes = this.#codec.encode(envelope);
    const seq = (last ?? 0) + 1;
    const sent = this.#socket.trySend({ topic, seq, body: bytes });
    this.#sequences.delete(topic);
    this.#sequences.set(topic, seq);
    if (this.#sequences.size > this.#maxTopics) this.#sequences.delete(this.#sequences.keys().next().value!);
    if (!sent) throw new OverloadedError(`the publisher's send queue is full; publication on ${topic} refused (subscribers see it as a gap)`);
    this.#published += 1;
    return seq;
  }

  /** Resolves true once ZeroMQ has taken every queued publication (false after `timeoutMs`). */
  flush(timeoutMs?: number): Promise<boolean> {
    return this.#socket.flush(timeoutMs);
  }

  /** Flushes (up to `flushTimeout` ms, default 1000) and closes. */
  close(options: { readonly flushTimeout?: number } = {}): Promise<void> {
    return this.#socket.close({ flushTimeout: options.flushTimeout ?? 1000 });
  }

  // One bodies frame for the whole batch (FRAMES.md §3.2): ZeroMQ's and zeromq.js's work per
  // frame is most of what batching saves, so bodies are concatenated rather than sent as frames.
  #frames(queue: Fifo<Publication>): Frame[] {
    const first = queue.shift()!;
    let bodies: Uint8Array = first.body;
    let count = 1;
    if (this.#maxBatch > 1 && queue.peek()?.topic === first.topic) {
      const batch = [first.body];
      let size = first.body.byteLength;
      for (let next = queue.peek(); next !== undefined && count < this.#maxBatch; next = queue.peek()) {
        if (next.topic !== first.topic || size + next.body.byteLength > MAX_BATCH_BYTES) break;
        batch.push(queue.shift()!.body);
        size += next.body.byteLength;
        count += 1;
      }
      bodies = Buffer.concat(batch, size);
    }
    this.#messages += 1;
    return [first.topic, encodePublicationHeader({ p: this.id, s: first.seq, n: count }), bodies];
  }
}
