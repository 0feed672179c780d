import type { ChatHistoryReply, ChatPublication } from '@correio/protocol';
import { compareHistory, SeenOps, sameOp, type HistoryPosition, type OpId } from './opOrder.js';

/** Reads one page of a channel's history (chat.history.request): newest page first. */
export type HistoryReader = (channel: string, page: { readonly limit: number; readonly before?: string }) => Promise<ChatHistoryReply>;

export interface ChannelFeedOptions {
  readonly channel: string;
  readonly readHistory: HistoryReader;
  /** Sends one publication to the socket; `replayed` when it came from history. */
  readonly deliver: (publication: ChatPublication, replayed: boolean) => void;
  /** Reports a history read that failed (the feed stays live). */
  readonly failed: (error: unknown) => void;
  /** History pages read at most to find a resume point. */
  readonly maxResumePages: number;
  readonly page: number;
}

/** The outcome of starting a feed. */
export interface FeedStart {
  /** Publications sent from history before live ones. */
  readonly replayed: number;
  /** False when `after` was not found within the pages read: older publications may be missing. */
  readonly complete: boolean;
}

/**
 * One socket's subscription to one channel: each publication is sent once, history before live.
 * Live publications that arrive while history is read wait, then go out after it unless history
 * already sent them (FRAMES.md §3.6: subscribe first, read by request, dedup by op). After a loss
 * (a gap, the proxy back) the latest page is read again and what was not sent yet goes out.
 */
export class ChannelFeed {
  readonly #options: ChannelFeedOptions;
  readonly #seen: SeenOps;
  /** Live publications held while history is read. */
  #held: ChatPublication[] | undefined = [];
  /** Only publications after this one in history order are sent from history. */
  #floor: HistoryPosition | undefined;
  #recovering: Promise<void> | undefined;
  #recoverAgain = false;
  #closed = false;

  constructor(options: ChannelFeedOptions) {
    this.#options = options;
    this.#seen = new SeenOps(options.page * 4);
  }

  /** Call once, after the channel's topic is joined: sends what came after `after` (nothing without it), then goes live. */
  async start(after: OpId | undefined): Promise<FeedStart> {
    let start: FeedStart = { replayed: 0, complete: true };
    try {
      start = after === undefined ? await this.#markLatest() : await this.#replayAfter(after);
    } finally {
      const held = this.#held ?? [];
      this.#held = undefined;
      for (const publication of held) this.#send(publication, false);
    }
    return start;
  }

  /** A publication received live. */
  live(publication: ChatPublication): void {
    if (this.#held) this.#held.push(publication);
    else this.#send(publication, false);
  }

  /** Publications may have been lost: read the latest page again (one read at a time, repeated once if asked meanwhile). */
  recover(): void {
    if (this.#closed || this.#held) return;
    if (this.#recovering) {
      this.#recoverAgain = true;
      return;
    }
    this.#recovering = (async () => {
      do {
        this.#recoverAgain = false;
        try {
          const reply = await this.#options.readHistory(this.#options.channel, { limit: this.#options.page });
          for (const publication of reply.messages) if (this.#after(publication)) this.#send(publication, true);
        } catch (error) {
          this.#options.failed(error);
        }
      } while (this.#recoverAgain && !this.#closed);
      this.#recovering = undefined;
    })();
  }

  close(): void {
    this.#closed = true;
  }

  async #markLatest(): Promise<FeedStart> {
    const reply = await this.#options.readHistory(this.#options.channel, { limit: 1 });
    this.#floor = reply.messages.at(-1);
    return { replayed: 0, complete: true };
  }

  /** Reads pages back from the newest until `after` is found (or the page budget runs out), then sends what follows it. */
  async #replayAfter(after: OpId): Promise<FeedStart> {
    const pages: ChatPublication[][] = [];
    let before: string | undefined;
    let found = -1;
    for (let read = 0; read < this.#options.maxResumePages; read += 1) {
      const reply = await this.#options.readHistory(this.#options.channel, { limit: this.#options.page, ...(before !== undefined ? { before } : {}) });
      pages.unshift(reply.messages);
      found = reply.messages.findIndex((publication) => sameOp(publication.op, after));
      if (found >= 0 || reply.next === undefined) break;
      before = reply.next;
    }
    // The page `after` was found on is the oldest read, so its index there is its index in `history`.
    const history = pages.flat();
    const index = found;
    this.#floor = index >= 0 ? history[index] : undefined;
    if (this.#floor) this.#seen.add(this.#floor.op);
    let replayed = 0;
    for (const publication of history.slice(index + 1)) {
      if (this.#send(publication, true)) replayed += 1;
    }
    return { replayed, complete: found >= 0 };
  }

  #after(publication: ChatPublication): boolean {
    return this.#floor === undefined || compareHistory(publication, this.#floor) > 0;
  }

  #send(publication: ChatPublication, replayed: boolean): boolean {
    if (this.#closed || !this.#seen.add(publication.op)) return false;
    this.#options.deliver(publication, replayed);
    return true;
  }
}
