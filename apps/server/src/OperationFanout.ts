import type { BodyOf, MessageType, Operation } from '@correio/protocol';
import type { Logger } from 'pino';
import { directOf, publicationOf } from './store/views.js';

/** Publishes one protocol event on a proxy topic (the service's publisher). */
export type PublishFn = <T extends MessageType>(topic: string, type: T, body: BodyOf<T>) => number;

export interface FanoutCounters {
  /** Events handed to the publisher, by type. */
  readonly published: Record<string, number>;
  /** Events the publisher refused (its queue was full); the operations are stored all the same, and subscribers see a gap. */
  dropped: number;
}

/**
 * Announces committed operations on the proxy (FRAMES.md §4.1), after they are durable: every
 * operation as `replica.op` on `replica/` (for replication), a publication also as
 * `chat.publication` on `chan/<channel>/`, a direct message as `chat.direct` on `user/<to>/`.
 * Delivery is PUB/SUB's: best effort, and a subscriber sees loss as a sequence gap and reads the
 * history to catch up. A refused publication is logged and counted, never failing the request,
 * whose write is already durable; it still uses its sequence number, so subscribers see the gap.
 */
export class OperationFanout {
  readonly counters: FanoutCounters = { published: {}, dropped: 0 };
  readonly #publish: PublishFn;
  readonly #log: Logger;

  constructor(publish: PublishFn, log: Logger) {
    this.#publish = publish;
    this.#log = log;
  }

  /** `replica: false` leaves out the `replica/` publication, for an operation pushed to the peers another way. */
  announce(op: Operation, options: { readonly replica?: boolean } = {}): void {
    if (options.replica ?? true) this.#send('replica/', 'replica.op', op);
    if (op.kind === 'publish') this.#send(`chan/${op.data.channel}/`, 'chat.publication', publicationOf(op));
    if (op.kind === 'direct') this.#send(`user/${op.data.to}/`, 'chat.direct', directOf(op));
  }

  #send<T extends MessageType>(topic: string, type: T, body: BodyOf<T>): void {
    try {
      this.#publish(topic, type, body);
      this.counters.published[type] = (this.counters.published[type] ?? 0) + 1;
    } catch (error) {
      this.counters.dropped++;
      this.#log.warn({ err: error, topic, type }, 'a committed operation could not be published; readers will find it in the history');
    }
  }
}
