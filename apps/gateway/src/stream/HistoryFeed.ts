import { compareHistory, SeenOps, sameOp, type HistoryPosition, type OpId } from './opOrder.js';

/** What a feed carries: publications of a channel, or direct messages to a user. */
export type FeedItem = HistoryPosition;

/** A page of history as the servers return it: oldest first, `next` for the page before. */
export interface HistoryPage<T extends FeedItem> {
  readonly messages: readonly T[];
  readonly next?: string;
}

/** Reads one page of the history (chat.history.request, chat.inbox.request): newest page first. */
export type HistoryReader<T extends FeedItem> = (page: { readonly limit: number; readonly before?: string }) => Promise<HistoryPage<T>>;

/**
 * Where a socket resumes: the last op it saw (history order from there), or the last op it saw
 * from each origin server (exact across servers: see `HistoryFeed`).
 */
export type ResumePoint = OpId | readonly OpId[];

export interface HistoryFeedOptions<T extends FeedItem> {
  readonly readHistory: HistoryReader<T>;
  /** Sends one item to the socket; `replayed` when it came from history. */
  readonly deliver: (item: T, replayed: boolean) => void;
  /** Reports a history read that failed (the feed stays live). */
  readonly failed: (error: unknown) => void;
  /** History pages read at most to find a resume point. */
  readonly maxResumePages: number;
  readonly page: number;
  /**
   * How far (ms of HLC wall time) an item may sort before one already seen and still arrive
   * after it: the servers' clock skew plus commit-to-publish delay. History is read back this far.
   */
  readonly windowMs: number;
  /** How long after start the latest history is read once more (the subscription reaching the publishers, replication). */
  readonly settleMs: number;
}

/** The outcome of starting a feed. */
export interface FeedStart {
  /** Items sent from history before live ones. */
  readonly replayed: number;
  /** False when the resume point was not found within the pages read: older items may be missing. */
  readonly complete: boolean;
}

/** Live items held at most while history is read; beyond, they go out at once (order per origin is then not kept). */
const MAX_HELD = 10_000;

/**
 * One socket's live feed of one history (a channel's publications, or the user's direct messages):
 * each item is sent once, history before live, and each origin server's in the order it made them.
 *
 * Live items are held while history is read (at start, one `settleMs` later, and after any loss: a
 * gap, the proxy back), then sent unless history already sent them (FRAMES.md §3.6: subscribe
 * first, read by request, dedup by op). A resume with one op per origin sends exactly the items
 * whose seq is past the socket's last one from that origin — including one from another server that
 * sorts before them in history (its clock behind, or in flight at the close) — and, from origins the
 * socket had seen nothing from, those up to `windowMs` before the oldest op given.
 */
export class HistoryFeed<T extends FeedItem> {
  readonly #options: HistoryFeedOptions<T>;
  readonly #seen: SeenOps;
  /** Live publications held while history is read; undefined when live ones go straight out. */
  #held: T[] | undefined = [];
  /** Only publications after this one in history order are sent from history. */
  #floor: HistoryPosition | undefined;
  /** Per origin, the last seq the socket saw before it resumed: history sends only later ones. */
  readonly #seenBefore = new Map<string, number>();
  /** The latest item sent, in history order (recoveries read back `windowMs` before it). */
  #latest: HistoryPosition | undefined;
  #recovering: Promise<void> | undefined;
  #recoverAgain = false;
  #settle: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: HistoryFeedOptions<T>) {
    this.#options = options;
    this.#seen = new SeenOps(options.page * 4);
  }

  /** Call once, after the channel's topic is joined: sends what came after `after` (nothing without it); live ones follow the settle read. */
  async start(after: ResumePoint | undefined): Promise<FeedStart> {
    try {
      if (after === undefined) return await this.#markLatest();
      return Array.isArray(after) ? await this.#replayAfterEach(after) : await this.#replayAfter(after as OpId);
    } catch (error) {
      this.#release();
      throw error;
    } finally {
      if (!this.#closed && this.#held) this.#settle = setTimeout(() => this.#recover(), this.#options.settleMs);
    }
  }

  /** An item received live. */
  live(item: T): void {
    if (this.#held && this.#held.length < MAX_HELD) this.#held.push(item);
    else this.#send(item, false);
  }

  /** Publications may have been lost: hold live ones, read history back to the latest sent, send what is missing. */
  recover(): void {
    if (this.#closed) return;
    // Held but no read under way: the start's read, then the settle read, come after this loss.
    if (this.#held && this.#recovering === undefined) return;
    this.#recover();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#settle);
    this.#held = undefined;
  }

  #recover(): void {
    this.#settle = undefined;
    if (this.#recovering) {
      this.#recoverAgain = true;
      return;
    }
    this.#held ??= [];
    this.#recovering = (async () => {
      do {
        this.#recoverAgain = false;
        try {
          for (const item of await this.#readBack()) if (this.#wanted(item)) this.#send(item, true);
        } catch (error) {
          this.#options.failed(error);
        }
      } while (this.#recoverAgain && !this.#closed);
      this.#recovering = undefined;
      if (!this.#closed) this.#release();
    })();
  }

  /** History back to `windowMs` before the latest item sent (at most the pages the dedup remembers), oldest first. */
  async #readBack(): Promise<T[]> {
    const until = this.#latest ? this.#latest.hlc[0] - this.#options.windowMs : Number.POSITIVE_INFINITY;
    const floor = this.#floor;
    const { items } = await this.#pagesBack(3, ([oldest]) => oldest === undefined || oldest.hlc[0] <= until || (floor !== undefined && compareHistory(oldest, floor) <= 0));
    return items;
  }

  /**
   * Reads pages back from the newest, at most `maxPages`, until `enough` says so of a page (each
   * is passed in turn, newest first) or the history begins. Returns what was read, oldest first;
   * `ended` is false when the page budget ran out first.
   */
  async #pagesBack(maxPages: number, enough: (page: readonly T[]) => boolean): Promise<{ items: T[]; ended: boolean }> {
    const pages: (readonly T[])[] = [];
    let before: string | undefined;
    for (let read = 0; read < maxPages; read += 1) {
      const reply = await this.#read(before);
      pages.unshift(reply.messages);
      if (enough(reply.messages) || reply.next === undefined) return { items: pages.flat(), ended: true };
      before = reply.next;
    }
    return { items: pages.flat(), ended: false };
  }

  /** Sends the held live publications and stops holding. */
  #release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const item of held) this.#send(item, false);
  }

  async #markLatest(): Promise<FeedStart> {
    const reply = await this.#read(undefined, 1);
    this.#floor = reply.messages.at(-1);
    return { replayed: 0, complete: true };
  }

  /** Reads pages back from the newest until `after` is found (or the page budget runs out), then sends what follows it in history order. */
  async #replayAfter(after: OpId): Promise<FeedStart> {
    const isAfter = (item: T) => sameOp(item.op, after);
    const { items } = await this.#pagesBack(this.#options.maxResumePages, (page) => page.some(isAfter));
    this.#floor = items.find(isAfter);
    if (this.#floor) this.#seen.add(this.#floor.op);
    return { replayed: this.#replay(items), complete: this.#floor !== undefined };
  }

  /**
   * Reads pages back until every origin's last op is passed and `windowMs` more, then sends each
   * origin's later publications. Per origin, seq and HLC rise together, so what the socket missed
   * from an origin sorts after its last op from it; from other origins, only what sorts at most
   * `windowMs` before the oldest of those ops can have been in flight when the socket closed.
   */
  async #replayAfterEach(after: readonly OpId[]): Promise<FeedStart> {
    for (const { origin, seq } of after) this.#seenBefore.set(origin, Math.max(seq, this.#seenBefore.get(origin) ?? 0));
    const unpassed = new Set(this.#seenBefore.keys());
    let oldest: HistoryPosition | undefined;
    const { items, ended } = await this.#pagesBack(this.#options.maxResumePages, (page) => {
      // Newest first, so the position kept per origin is the newest at or before its last op.
      for (const item of [...page].reverse()) {
        const { origin, seq } = item.op;
        if (!unpassed.has(origin) || seq > this.#seenBefore.get(origin)!) continue;
        unpassed.delete(origin);
        if (oldest === undefined || compareHistory(item, oldest) < 0) oldest = item;
      }
      const first = page[0];
      return unpassed.size === 0 && oldest !== undefined && first !== undefined && first.hlc[0] < oldest.hlc[0] - this.#options.windowMs;
    });
    // Assigned in the callback, which TypeScript's narrowing does not follow.
    const passed = oldest as HistoryPosition | undefined;
    if (passed) this.#floor = { hlc: [passed.hlc[0] - this.#options.windowMs, 0], op: { origin: '', seq: 0 } };
    return { replayed: this.#replay(items), complete: ended };
  }

  /** Sends the history publications the socket wants, in order; returns how many went out. */
  #replay(history: readonly T[]): number {
    let replayed = 0;
    for (const item of history) if (this.#wanted(item) && this.#send(item, true)) replayed += 1;
    return replayed;
  }

  #wanted(item: T): boolean {
    if (item.op.seq <= (this.#seenBefore.get(item.op.origin) ?? 0)) return false;
    return this.#floor === undefined || compareHistory(item, this.#floor) > 0;
  }

  #read(before: string | undefined, limit = this.#options.page): Promise<HistoryPage<T>> {
    return this.#options.readHistory({ limit, ...(before !== undefined ? { before } : {}) });
  }

  #send(item: T, replayed: boolean): boolean {
    if (this.#closed || !this.#seen.add(item.op)) return false;
    if (this.#latest === undefined || compareHistory(item, this.#latest) > 0) this.#latest = item;
    this.#options.deliver(item, replayed);
    return true;
  }
}
