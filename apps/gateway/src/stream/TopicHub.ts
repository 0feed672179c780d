import type { CurveClientKeys } from '@correio/observability';
import { Subscriber, type Publication } from '@correio/transport';
import type { Logger } from 'pino';

const MAX_PUBLISHERS_PER_TOPIC = 1_024;

/** What a topic's listener is told. */
export interface TopicListener {
  publication(publication: Publication): void;
  /** Publications of the topic were lost on the way (a sequence gap, or the proxy came back): read them by request. */
  lost(): void;
}

/**
 * The gateway's one SUB socket on the proxy, shared by every stream: a topic is subscribed upstream
 * once, when its first listener joins, and unsubscribed when its last one leaves, so a thousand
 * sockets on one channel cost the proxy one subscription.
 */
export class TopicHub {
  readonly #subscriber: Subscriber;
  readonly #listeners = new Map<string, Set<TopicListener>>();
  /** Per topic, the publishers seen on it since it was joined. */
  readonly #publishers = new Map<string, Set<string>>();
  readonly #receiving: Promise<void>;
  #wasDown = false;

  constructor(options: { readonly proxy: string; readonly curve?: CurveClientKeys; readonly logger?: Logger }) {
    this.#subscriber = new Subscriber({ ...(options.curve ? { curve: options.curve } : {}), ...(options.logger ? { logger: options.logger } : {}) });
    this.#subscriber.events.on('gap', ({ topic }) => this.#lost(topic));
    // A publisher that restarted under its id began a new run: what it published first may be lost.
    this.#subscriber.events.on('reset', ({ topic }) => this.#lost(topic));
    this.#subscriber.events.on('disconnected', () => {
      this.#wasDown = true;
    });
    this.#subscriber.events.on('connected', () => {
      if (!this.#wasDown) return;
      this.#wasDown = false;
      // Whatever was published while the proxy was away is only in the history now.
      for (const topic of this.#listeners.keys()) this.#lost(topic);
    });
    this.#subscriber.connect(options.proxy);
    this.#receiving = this.#receive();
  }

  /** Topics subscribed upstream. */
  get topics(): number {
    return this.#listeners.size;
  }

  get stats(): Subscriber['stats'] {
    return this.#subscriber.stats;
  }

  /** Starts delivering `topic` to `listener`; returns the function that stops it. */
  join(topic: string, listener: TopicListener): () => void {
    let listeners = this.#listeners.get(topic);
    if (listeners === undefined) {
      listeners = new Set();
      this.#listeners.set(topic, listeners);
      this.#subscriber.subscribe(topic);
    }
    listeners.add(listener);
    return () => {
      const current = this.#listeners.get(topic);
      if (!current?.delete(listener) || current.size > 0) return;
      this.#listeners.delete(topic);
      this.#publishers.delete(topic);
      this.#subscriber.unsubscribe(topic);
    };
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    this.#publishers.clear();
    await this.#subscriber.close();
    await this.#receiving;
  }

  async #receive(): Promise<void> {
    for await (const publication of this.#subscriber) {
      const listeners = this.#listeners.get(publication.topic);
      if (!listeners) continue;
      if (this.#newPublisher(publication) && publication.seq > 1) this.#lost(publication.topic);
      for (const listener of listeners) listener.publication(publication);
    }
  }

  /**
   * True for a publisher's first publication on a topic since it was joined. Numbered past 1, its
   * earlier ones may have been published while this subscription was on its way to it (a server that
   * just started or came back), and are only in the history.
   */
  #newPublisher({ topic, publisher }: Publication): boolean {
    let publishers = this.#publishers.get(topic);
    if (publishers === undefined) this.#publishers.set(topic, (publishers = new Set()));
    if (publishers.has(publisher)) return false;
    // Servers, not clients, publish: a topic sees a handful. The bound is against a broken one.
    if (publishers.size >= MAX_PUBLISHERS_PER_TOPIC) publishers.clear();
    publishers.add(publisher);
    return true;
  }

  #lost(topic: string): void {
    const listeners = this.#listeners.get(topic);
    if (listeners) for (const listener of listeners) listener.lost();
  }
}
