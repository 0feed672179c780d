import { isSubscriptionPrefix } from './subscriptionLimits.js';

/** Why a metered proxy kept a message from its subscribers away from the publishers. */
export type SubscriptionRefusal =
  /** Not printable ASCII, or longer than a topic (FRAMES.md §3.3). */
  | 'invalid-topic'
  /** The proxy already passes on its limit of distinct topics (guarded mode: holds its limit of subscriptions). */
  | 'limit'
  /** Guarded mode: the connection already holds its limit of subscriptions. */
  | 'connection-limit'
  /** Not a subscription at all (a subscriber has nothing else to say). */
  | 'not-a-subscription';

/** What to do with one message from the subscribers' side. */
export type SubscriptionVerdict =
  /** Pass it on to the publishers: the first subscriber of a topic, or the last one leaving. */
  | { readonly action: 'forward'; readonly topic: string; readonly subscribed: boolean }
  /** Counted; the publishers already know (another subscriber of the topic, or one still left). */
  | { readonly action: 'count'; readonly topic: string; readonly subscribed: boolean }
  | { readonly action: 'refuse'; readonly reason: SubscriptionRefusal; readonly bytes: Buffer }
  /** An unsubscription of a topic nobody holds (such as one refused before): nothing to do. */
  | { readonly action: 'ignore' };

/**
 * The metered proxy's view of its XPUB's subscriptions (`0x01 topic` subscribes, `0x00 topic`
 * unsubscribes; with verbosity `allSubsUnsubs` every subscriber's messages pass through, so a
 * count is a number of subscribers) and the gate in front of the publishers: a topic is passed on
 * when its first subscriber arrives and withdrawn when its last one leaves, only if it is a valid
 * prefix, and at most `maxForwarded` distinct topics at a time — every publisher's PUB socket
 * stores each one. A topic refused for the limit stays counted (so one subscriber leaving cannot
 * withdraw it from another) and is passed on when a later subscription to it finds room.
 */
export class SubscriptionTable {
  readonly #counts = new Map<string, number>();
  readonly #forwarded = new Set<string>();
  readonly #maxForwarded: number;

  constructor(maxForwarded: number) {
    if (!Number.isSafeInteger(maxForwarded) || maxForwarded < 1) throw new RangeError(`maxSubscriptions must be a positive integer, got ${maxForwarded}`);
    this.#maxForwarded = maxForwarded;
  }

  /** Applies one message from the subscribers' side (its frames) and says what to do with it. */
  apply(frames: readonly Buffer[]): SubscriptionVerdict {
    const message = frames[0];
    const kind = message?.[0];
    if (frames.length !== 1 || (kind !== 0 && kind !== 1)) return { action: 'refuse', reason: 'not-a-subscription', bytes: message ?? Buffer.alloc(0) };
    const prefix = message!.subarray(1);
    const valid = isSubscriptionPrefix(prefix);
    const topic = prefix.toString('latin1');
    if (kind === 1) return valid ? this.#subscribe(topic, prefix) : { action: 'refuse', reason: 'invalid-topic', bytes: prefix };
    return valid ? this.#unsubscribe(topic) : { action: 'ignore' };
  }

  #subscribe(topic: string, prefix: Buffer): SubscriptionVerdict {
    this.#counts.set(topic, (this.#counts.get(topic) ?? 0) + 1);
    if (this.#forwarded.has(topic)) return { action: 'count', topic, subscribed: true };
    if (this.#forwarded.size >= this.#maxForwarded) return { action: 'refuse', reason: 'limit', bytes: prefix };
    this.#forwarded.add(topic);
    return { action: 'forward', topic, subscribed: true };
  }

  #unsubscribe(topic: string): SubscriptionVerdict {
    const count = this.#counts.get(topic);
    if (count === undefined) return { action: 'ignore' };
    if (count > 1) {
      this.#counts.set(topic, count - 1);
      return { action: 'count', topic, subscribed: false };
    }
    this.#counts.delete(topic);
    return this.#forwarded.delete(topic) ? { action: 'forward', topic, subscribed: false } : { action: 'count', topic, subscribed: false };
  }

  /** Subscribers per topic prefix (the empty string is "everything"), refused ones included. */
  entries(): IterableIterator<[string, number]> {
    return this.#counts.entries();
  }

  get topics(): number {
    return this.#counts.size;
  }

  /** Distinct topics passed on to the publishers now. */
  get forwarded(): number {
    return this.#forwarded.size;
  }

  get subscriptions(): number {
    let total = 0;
    for (const count of this.#counts.values()) total += count;
    return total;
  }
}
