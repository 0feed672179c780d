import { encode, MessageCodec } from '@correio/codec';
import type { AnyEnvelope } from '@correio/protocol';
import { encodePublicationHeader, mdp, openSocket, type ManagedSocket } from '@correio/transport';

/** How one request ended. */
export type RequestOutcome =
  | { readonly kind: 'reply'; readonly envelope: AnyEnvelope }
  /** The broker's MMI services answer with a bare status frame, not an envelope. */
  | { readonly kind: 'raw'; readonly text: string }
  | { readonly kind: 'timeout' };

/**
 * A peer that sends whatever envelopes it is given, exactly as given — any `from`, `lc`, `ts` and
 * id, to any service or topic — over the same sockets an honest peer uses: a DEALER speaking
 * MDP/0.2 to the broker, a PUB connected to the proxy's publisher side writing
 * [topic, header, envelopes] with whatever sequence number it is told. Replies are matched by
 * envelope id (several requests may share one; they are answered in order); every reply must be
 * a valid envelope, and those that are not are counted.
 */
export class HostileSender {
  readonly #dealer: ManagedSocket;
  readonly #pub: ManagedSocket;
  readonly #codec = new MessageCodec();
  readonly #waiting = new Map<string, Array<(outcome: RequestOutcome) => void>>();
  readonly #receiving: Promise<void>;
  /** Replies that were not a valid MDP message holding one valid envelope. */
  malformedReplies = 0;

  constructor(endpoints: { readonly broker: string; readonly proxyPublishers: string }) {
    this.#dealer = openSocket('dealer', { whenSendQueueFull: 'reject' });
    this.#dealer.connect(endpoints.broker);
    this.#pub = openSocket('pub');
    this.#pub.connect(endpoints.proxyPublishers);
    this.#receiving = this.#receive();
  }

  /** Sends `envelope` to `service` and resolves with its reply, or a timeout after `timeoutMs`. */
  async request(service: string, envelope: AnyEnvelope, timeoutMs: number): Promise<RequestOutcome> {
    // MMI replies carry no envelope: they are matched by service name, in order.
    const key = service.startsWith('mmi.') ? `mmi:${service}` : envelope.id;
    let settle!: (outcome: RequestOutcome) => void;
    const outcome = new Promise<RequestOutcome>((resolve) => (settle = resolve));
    const queue = this.#waiting.get(key) ?? [];
    queue.push(settle);
    this.#waiting.set(key, queue);
    const timer = setTimeout(() => {
      this.#forget(key, settle);
      settle({ kind: 'timeout' });
    }, timeoutMs);
    try {
      await this.#dealer.send(mdp.clientRequest(service, [encode(envelope)]));
      return await outcome;
    } finally {
      clearTimeout(timer);
      this.#forget(key, settle);
    }
  }

  /** Publishes `envelopes` as one message on `topic`, numbered `seq` by publisher `publisher`. */
  async publish(topic: string, publisher: string, seq: number, envelopes: readonly AnyEnvelope[]): Promise<void> {
    const header = encodePublicationHeader({ p: publisher, s: seq, n: envelopes.length });
    await this.#pub.send([topic, header, Buffer.concat(envelopes.map((envelope) => encode(envelope)))]);
  }

  async close(): Promise<void> {
    await Promise.all([this.#dealer.close(), this.#pub.close()]);
    await this.#receiving;
  }

  async #receive(): Promise<void> {
    for (let frames = await this.#dealer.receive(); frames !== undefined; frames = await this.#dealer.receive()) {
      const message = mdp.parseClientMessage(frames);
      if (message.kind !== 'final' || message.body.length !== 1) {
        this.malformedReplies += 1;
        continue;
      }
      if (message.service.startsWith('mmi.')) {
        this.#settle(`mmi:${message.service}`, { kind: 'raw', text: Buffer.from(message.body[0]!).toString() });
        continue;
      }
      try {
        const envelope = this.#codec.decode(message.body[0]!);
        this.#settle(envelope.id, { kind: 'reply', envelope });
      } catch {
        this.malformedReplies += 1;
      }
    }
  }

  #settle(key: string, outcome: RequestOutcome): void {
    this.#waiting.get(key)?.shift()?.(outcome);
    if (this.#waiting.get(key)?.length === 0) this.#waiting.delete(key);
  }

  #forget(key: string, settle: (outcome: RequestOutcome) => void): void {
    const queue = this.#waiting.get(key);
    if (!queue) return;
    const index = queue.indexOf(settle);
    if (index >= 0) queue.splice(index, 1);
    if (queue.length === 0) this.#waiting.delete(key);
  }
}
