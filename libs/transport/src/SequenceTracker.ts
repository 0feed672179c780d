/** What a message's sequence numbers say about its stream (protocol/FRAMES.md §3.4). */
export interface SequenceVerdict {
  /** Set for the first message seen from this stream: nothing before it can be judged. */
  readonly first?: true;
  /** Set when the stream started a new run: the publisher restarted under the same id. */
  readonly reset?: true;
  /** Set when publications were lost: `missed` of them, numbered `expected` … `received - 1`. */
  readonly gap?: { readonly expected: number; readonly received: number; readonly missed: number };
  /**
   * Set when `s` jumped further ahead than `maxGap`: no publisher sends that many between two
   * messages a subscriber sees, so it is a forged or broken header, not a loss. The stream is
   * re-anchored at it (as after a reset) and no gap is reported, so no counter takes its size.
   */
  readonly implausible?: true;
}

/** The largest jump in `s` read as a gap (FRAMES.md §3.4): 2^32 publications between two messages. */
export const MAX_SEQUENCE_GAP = 2 ** 32;

/**
 * Tracks the last sequence number seen per (publisher, topic) stream and judges each message by
 * the rules of FRAMES.md §3.4. Streams are kept in least-recently-seen order and the oldest
 * forgotten beyond `maxStreams`, so memory stays bounded however many publishers come and go.
 */
export class SequenceTracker {
  readonly #last = new Map<string, number>();
  readonly #maxStreams: number;

  readonly #maxGap: number;

  constructor(maxStreams = 100_000, maxGap = MAX_SEQUENCE_GAP) {
    this.#maxStreams = maxStreams;
    this.#maxGap = maxGap;
  }

  get size(): number {
    return this.#last.size;
  }

  /** Judges a message carrying `count` bodies numbered from `first`, and records it. */
  observe(publisher: string, topic: string, first: number, count: number): SequenceVerdict {
    const key = `${topic}\u0000${publisher}`;
    const last = this.#last.get(key);
    let verdict: SequenceVerdict;
    if (last === undefined) verdict = { first: true };
    else if (first === last + 1) verdict = {};
    else if (first - last - 1 > this.#maxGap) verdict = { implausible: true };
    else if (first > last + 1) verdict = { gap: { expected: last + 1, received: first, missed: first - last - 1 } };
    else if (first === 1) verdict = { reset: true };
    // A new run whose first publications were lost.
    else verdict = { reset: true, gap: { expected: 1, received: first, missed: first - 1 } };
    this.#last.delete(key);
    this.#last.set(key, first + count - 1); // the header guarantees ≤ 2^53 − 1
    if (this.#last.size > this.#maxStreams) this.#last.delete(this.#last.keys().next().value!);
    return verdict;
  }

  /** Forgets every stream whose topic starts with `prefix` (after an unsubscribe, what follows is not a gap). */
  forget(prefix: string): void {
    for (const key of this.#last.keys()) if (key.startsWith(prefix)) this.#last.delete(key);
  }
}
