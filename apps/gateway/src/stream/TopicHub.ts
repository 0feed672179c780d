import type { CurveClientKeys } from '@correio/observability';
import { Subscriber, type Publication } from '@correio/transport';
import type { Logger } from 'pino';

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
  readonly #receiving: Promise<void>;
  #wasDown = false;

  constructor(options: { readonly proxy: string; readonly curve?: CurveClientKeys; readonly logger?: Logger }) {
    this.#subscriber = new Subscriber({ ...(options.curve ? { curve: options.curve } : {}), ...(options.logger ? { logger: options.logger } : {}) });
    this.#subscriber.events.on('gap', ({ topic }) => this.#lost(topic));
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
      this.#subscriber.unsubscribe(topic);
    };
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    await this.#subscriber.close();
    await this.#receiving;
  }

  async #receive(): Promise<void> {
    for await (const publication of this.#subscriber) {
      const listeners = this.#listeners.get(publication.topic);
      if (listeners) for (const listener of listeners) listener.publication(publication);
    }
  }

  #lost(topic: string): void {
    const listeners = this.#listeners.get(topic);
    if (listeners) for (const listener of listeners) listener.lost();
  }
}
