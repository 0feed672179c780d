import { CorreioError, Decoder, MessageCodec } from '@correio/codec';
import type { AnyEnvelope } from '@correio/protocol';
import type { Frames } from './frames.js';
import { componentLogger, type Logger } from '@correio/observability';
import { ManagedSocket, type SocketStats } from './ManagedSocket.js';
import { decodePublicationHeader, type PublicationHeader } from './publicationHeader.js';
import { SequenceTracker } from './SequenceTracker.js';
import type { SocketEventMap } from './socketEvents.js';
import type { SocketOptions } from './SocketOptions.js';
import type { Stamp } from './Stamp.js';
import { TypedEvents } from './TypedEvents.js';

/** One received publication. */
export interface Publication {
  readonly topic: string;
  readonly publisher: string;
  readonly seq: number;
  readonly envelope: AnyEnvelope;
}

export interface SubscriberEventMap extends SocketEventMap {
  /** Publications of a stream were lost (typically dropped by a PUB high-water mark on a slow link). */
  gap: { readonly topic: string; readonly publisher: string; readonly expected: number; readonly received: number; readonly missed: number };
  /** A stream started a new run: its publisher restarted under the same id (a lost start also shows as a gap). */
  reset: { readonly topic: string; readonly publisher: string };
}

export interface SubscriberOptions extends SocketOptions {
  /** Topic prefixes to subscribe to at once ("" is everything). */
  readonly topics?: readonly string[];
  /** (publisher, topic) streams whose sequence numbers are remembered. Default 100,000. */
  readonly maxTrackedStreams?: number;
  /** Observes the clock of every received envelope. */
  readonly stamp?: Stamp;
}

export interface SubscriberStats {
  /** Publications delivered. */
  readonly received: number;
  /** ZeroMQ messages received (fewer than publications with batching). */
  readonly messages: number;
  /** Messages dropped whole: missing or invalid topic/header frames, body count not matching the header. */
  readonly malformedMessages: number;
  /** Bodies dropped because they are not valid envelopes. */
  readonly malformedBodies: number;
  /** Gap events. */
  readonly gaps: number;
  /** Publications known lost, the sum of all gaps. */
  readonly missed: number;
  readonly resets: number;
  /** Messages whose sequence number jumped further than a gap can (SequenceTracker, FRAMES.md §3.4): a forged or broken header. */
  readonly implausibleSequences: number;
  readonly socket: SocketStats;
}

/**
 * Subscribes to topic prefixes on a SUB socket and yields decoded publications. It never hides
 * loss: sequence numbers are tracked per publisher per topic (protocol/FRAMES.md §3.4) and a
 * skipped range is reported as a `gap` event (and counted). Malformed messages and bodies are counted and dropped; they never
 * end the loop.
 */
export class Subscriber implements AsyncIterable<Publication> {
  readonly events = new TypedEvents<SubscriberEventMap>();
  readonly #socket: ManagedSocket;
  readonly #codec: MessageCodec;
  readonly #headerDecoder: Decoder;
  readonly #tracker: SequenceTracker;
  readonly #stamp: Stamp | undefined;
  readonly #log: Logger;
  readonly #stats = { received: 0, messages: 0, malformedMessages: 0, malformedBodies: 0, gaps: 0, missed: 0, resets: 0, implausibleSequences: 0 };

  constructor(options: SubscriberOptions = {}) {
    this.#log = componentLogger('subscriber', options.logger);
    this.#codec = new MessageCodec(options.limits ? { limits: options.limits } : {});
    this.#headerDecoder = new Decoder(options.limits);
    this.#tracker = new SequenceTracker(options.maxTrackedStreams);
    this.#stamp = options.stamp;
    this.#socket = new ManagedSocket('sub', { ...options, logger: this.#log });
    for (const type of ['connected', 'disconnected', 'handshakeFailed', 'listening', 'accepted', 'connectRetried'] as const) {
      this.#socket.events.on(type, (event) => this.events.emit(type, event as never));
    }
    for (const prefix of options.topics ?? []) this.subscribe(prefix);
  }

  get stats(): SubscriberStats {
    return { ...this.#stats, socket: this.#socket.stats };
  }

  connect(endpoint: string): void {
    this.#socket.connect(endpoint);
  }

  disconnect(endpoint: string): void {
    this.#socket.disconnect(endpoint);
  }

  bind(endpoint: string): Promise<string> {
    return this.#socket.bind(endpoint);
  }

  /** Receives publications whose topic starts with `prefix`. */
  subscribe(prefix: string): void {
    this.#socket.subscribe(prefix);
  }

  /** Stops receiving `prefix`; its streams are forgotten, so resubscribing later reports no false gap. */
  unsubscribe(prefix: string): void {
    this.#socket.unsubscribe(prefix);
    this.#tracker.forget(prefix);
  }

  /** Publications until the subscriber is closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<Publication, undefined> {
    for await (const frames of this.#socket) {
      this.#stats.messages += 1;
      const message = this.#parse(frames);
      if (!message) continue;
      const { topic, header } = message;
      const verdict = this.#tracker.observe(header.p, topic, header.s, header.n);
      if (verdict.implausible) {
        this.#stats.implausibleSequences += 1;
        this.#log.warn({ topic, publisher: header.p, s: header.s }, 'a sequence number jumped implausibly far ahead; stream re-anchored, no gap reported');
      }
      if (verdict.reset) {
        this.#stats.resets += 1;
        this.events.emit('reset', { topic, publisher: header.p });
      }
      if (verdict.gap) {
        this.#stats.gaps += 1;
        this.#stats.missed += verdict.gap.missed;
        this.#log.warn({ topic, publisher: header.p, ...verdict.gap }, 'publications lost');
        this.events.emit('gap', { topic, publisher: header.p, ...verdict.gap });
      }
      for (let index = 0; index < message.bodies.length; index += 1) {
        const envelope = this.#accept(message.bodies[index]!);
        if (!envelope) continue;
        this.#stats.received += 1;
        yield { topic, publisher: header.p, seq: header.s + index, envelope };
      }
    }
    return undefined;
  }

  close(): Promise<void> {
    return this.#socket.close();
  }

  /** The message's topic, header and decoded bodies, or undefined (counted) when it breaks FRAMES.md §3.2. */
  #parse(frames: Frames): { topic: string; header: PublicationHeader; bodies: Array<AnyEnvelope | CorreioError> } | undefined {
    try {
      if (frames.length !== 3) throw new Error(`expected [topic, header, bodies], got ${frames.length} frames`);
      const header = decodePublicationHeader(frames[1]!, this.#headerDecoder);
      const bodies = this.#codec.decodeSequence(frames[2]!, header.n);
      return { topic: frames[0]!.toString('latin1'), header, bodies };
    } catch (error) {
      this.#stats.malformedMessages += 1;
      this.#log.debug({ err: error }, 'dropped a malformed message');
      return undefined;
    }
  }

  /** The envelope, its clock observed; a body that was not a valid envelope is counted and dropped. */
  #accept(body: AnyEnvelope | CorreioError): AnyEnvelope | undefined {
    if (body instanceof CorreioError) {
      this.#stats.malformedBodies += 1;
      this.#log.debug({ err: body }, 'dropped a body that is not a valid envelope');
      return undefined;
    }
    this.#stamp?.observe(body);
    return body;
  }
}
