/**
 * Counts subscriptions per topic prefix from the XPUB side's subscription messages
 * (`0x01 topic` subscribes, `0x00 topic` unsubscribes). With XPUB verbosity `allSubsUnsubs` every
 * subscriber's (un)subscription passes through, so a count is the number of subscribers.
 */
export class SubscriptionTable {
  readonly #counts = new Map<string, number>();

  /** Applies one subscription message; returns the topic and direction, or undefined for other messages. */
  apply(message: Buffer): { topic: string; subscribed: boolean } | undefined {
    const kind = message[0];
    if (kind !== 0 && kind !== 1) return undefined;
    const topic = message.subarray(1).toString('utf8');
    const count = (this.#counts.get(topic) ?? 0) + (kind === 1 ? 1 : -1);
    if (count > 0) this.#counts.set(topic, count);
    else this.#counts.delete(topic);
    return { topic, subscribed: kind === 1 };
  }

  /** Subscribers per topic prefix (the empty string is "everything"). */
  entries(): IterableIterator<[string, number]> {
    return this.#counts.entries();
  }

  get topics(): number {
    return this.#counts.size;
  }

  get subscriptions(): number {
    let total = 0;
    for (const count of this.#counts.values()) total += count;
    return total;
  }
}
