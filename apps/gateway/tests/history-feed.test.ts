// HistoryFeed against a scripted history, for the orderings a real cluster makes rarely and by
// chance: a publication from a server whose clock is behind, or in flight when the socket closed,
// sorts before ones the socket already saw. (stream.test.ts and stream-skew.test.ts run it for real.)
import type { ChatHistoryReply, ChatPublication } from '@correio/protocol';
import { waitFor } from '@correio/testing';
import { describe, expect, it } from 'vitest';
import { HistoryFeed, type ResumePoint } from '../src/stream/HistoryFeed.js';
import { compareHistory } from '../src/stream/opOrder.js';

const WINDOW_MS = 5_000;

function publication(origin: string, seq: number, wallMs: number): ChatPublication {
  return { op: { origin, seq }, channel: 'c', user: 'ana', text: `${origin}/${seq}`, lc: seq, hlc: [wallMs, 0], ts: wallMs };
}

/** A channel's history as the servers return it: pages of `limit`, newest page first, each oldest first. */
class History {
  readonly items: ChatPublication[] = [];
  reads = 0;
  /** Resolves the next read only when released (to publish live during a read). */
  gate: Promise<void> | undefined;

  add(...items: ChatPublication[]): void {
    this.items.push(...items);
    this.items.sort(compareHistory);
  }

  readonly read = async (page: { readonly limit: number; readonly before?: string }): Promise<ChatHistoryReply> => {
    this.reads += 1;
    await this.gate;
    const end = page.before === undefined ? this.items.length : Number(page.before);
    const start = Math.max(0, end - page.limit);
    const messages = this.items.slice(start, end);
    return start > 0 ? { messages, next: String(start) } : { messages };
  };
}

function feedOn(history: History, options: { page?: number; settleMs?: number } = {}) {
  const delivered: { text: string; replayed: boolean }[] = [];
  const feed = new HistoryFeed<ChatPublication>({
    readHistory: history.read,
    deliver: (item, replayed) => delivered.push({ text: item.text, replayed }),
    failed: (error) => {
      throw error;
    },
    maxResumePages: 10,
    page: options.page ?? 500,
    windowMs: WINDOW_MS,
    settleMs: options.settleMs ?? 10,
  });
  const texts = () => delivered.map((item) => item.text);
  return { feed, delivered, texts };
}

async function resume(history: History, after: ResumePoint, page?: number) {
  const run = feedOn(history, page === undefined ? {} : { page });
  const start = await run.feed.start(after);
  run.feed.close();
  return { start, texts: run.texts() };
}

describe('HistoryFeed resume', () => {
  // s1's clock is 3 s ahead of s2's: s2/1 is made after s1/1 but sorts 3 s before it.
  const s1a = publication('s1', 1, 100_000);
  const s2a = publication('s2', 1, 97_000);
  const s1b = publication('s1', 2, 101_000);
  const s2b = publication('s2', 2, 98_000);

  it('sends what an origin made after the last op seen from it, even when it sorts before ops already seen', async () => {
    const history = new History();
    history.add(publication('s1', 0.5, 90_000), s1a, s2a, s1b, s2b);
    // The socket saw s1/1 only; s2/1 was still on its way when it closed.
    const { start, texts } = await resume(history, [s1a.op]);
    expect(texts).toEqual(['s2/1', 's2/2', 's1/2']);
    expect(start).toEqual({ replayed: 3, complete: true });
    // With the last op alone, history order from it loses s2/1 and s2/2 (they sort before it).
    expect((await resume(history, s1a.op)).texts).toEqual(['s1/2']);
  });

  it('sends nothing twice: what the socket saw from each origin is skipped wherever it sorts', async () => {
    const history = new History();
    history.add(s1a, s2a, s1b, s2b, publication('s1', 3, 102_000));
    // The socket saw s1/1, s1/2, then s2/1 (which sorts before both): last per origin s1/2 and s2/1.
    const { texts } = await resume(history, [s1b.op, s2a.op]);
    expect(texts).toEqual(['s2/2', 's1/3']);
    // With the last op alone (s2/1), everything after it in history order, s1/1 and s1/2 again.
    expect((await resume(history, s2a.op)).texts).toEqual(['s2/2', 's1/1', 's1/2', 's1/3']);
  });

  it('reads pages back until every origin is passed and the window before, and says when it could not', async () => {
    const history = new History();
    for (let seq = 1; seq <= 40; seq += 1) history.add(publication('s1', seq, 100_000 + seq * 1_000));
    history.add(publication('s2', 1, 117_500));
    // Pages of 4: s1/20 is on the 6th page from the newest, with s2/1 (2.5 s before it); the 7th
    // page starts more than the 5 s window before s1/20.
    const { start, texts } = await resume(history, [{ origin: 's1', seq: 20 }], 4);
    expect(texts).toEqual(['s2/1', ...Array.from({ length: 20 }, (_, index) => `s1/${index + 21}`)]);
    expect(start.complete).toBe(true);
    expect(history.reads).toBe(7);
    // An op further back than the pages allowed: what was read is sent, and complete is false.
    const far = await resume(history, [{ origin: 's1', seq: 1 }, { origin: 's2', seq: 1 }], 2);
    expect(far.start.complete).toBe(false);
    expect(far.texts).toEqual(Array.from({ length: 20 }, (_, index) => `s1/${index + 21}`));
  });
});

describe('HistoryFeed live', () => {
  it('holds live publications until the settle read, which sends what the subscription missed first', async () => {
    const history = new History();
    history.add(publication('s1', 1, 1_000));
    const { feed, texts, delivered } = feedOn(history, { settleMs: 50 });
    await feed.start(undefined);
    // s1/2 was published before the subscription reached s1: only in history. s1/3 arrives live
    // (and is not in the history of the server that answers yet).
    history.add(publication('s1', 2, 2_000));
    feed.live(publication('s1', 3, 3_000));
    expect(texts()).toEqual([]);
    await waitFor(() => delivered.length === 2, 'the settle read');
    expect(delivered).toEqual([
      { text: 's1/2', replayed: true },
      { text: 's1/3', replayed: false },
    ]);
    feed.live(publication('s1', 4, 4_000));
    expect(texts()).toEqual(['s1/2', 's1/3', 's1/4']);
    feed.close();
  });

  it('after a loss, holds live ones while history is read, so each origin stays in order', async () => {
    const history = new History();
    const { feed, texts } = feedOn(history, { settleMs: 1 });
    await feed.start(undefined);
    await waitFor(() => history.reads === 2, 'the settle read');
    feed.live(publication('s1', 1, 1_000));
    history.add(publication('s1', 1, 1_000), publication('s1', 2, 2_000), publication('s1', 3, 3_000));
    // s1/2 was lost on the way (a gap), s1/3 arrives while the history read is under way.
    let open!: () => void;
    history.gate = new Promise<void>((resolve) => (open = resolve));
    feed.recover();
    feed.live(publication('s1', 3, 3_000));
    expect(texts()).toEqual(['s1/1']);
    open();
    await waitFor(() => texts().length === 3, 'the recovery');
    expect(texts()).toEqual(['s1/1', 's1/2', 's1/3']);
    feed.close();
  });
});
