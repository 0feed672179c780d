// What the replication tests share: reading a server's digest and whole histories through
// srv.<id>, waiting for convergence, and bot-like writers that go through the broker's `chat`
// service as real clients do (any server may serve any request).
import { CorreioError } from '@correio/codec';
import type { BodyOf } from '@correio/protocol';
import type { ChatClient } from './helpers/chat.js';

export type Digest = BodyOf<'replica.digest.reply'>;

/** A server's digest, asked through the broker (no HTTP needed: works across network namespaces too). */
export async function digestOf(client: ChatClient, id: string, timeout = 2_000): Promise<Digest> {
  return client.call(`srv.${id}`, 'replica.digest.request', {}, { retries: 0, timeout });
}

/** Polls the servers' digests until they are all equal; resolves with how long that took (ms). */
export async function converged(client: ChatClient, ids: readonly string[], timeoutMs: number): Promise<{ ms: number; digest: Digest }> {
  const started = performance.now();
  let last: string[] = [];
  for (let round = 0; round < 100_000; round++) {
    const digests = await Promise.all(ids.map((id) => digestOf(client, id).catch(() => undefined)));
    const first = digests[0];
    if (first && digests.every((d) => d !== undefined && d.hash === first.hash && d.ops === first.ops)) {
      return { ms: performance.now() - started, digest: first };
    }
    last = digests.map((d, i) => `${ids[i]}: ${d ? `${d.ops} ops ${JSON.stringify(d.hwm)}` : 'unreachable'}`);
    if (performance.now() - started > timeoutMs) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no convergence within ${timeoutMs} ms: ${last.join('; ')}`);
}

/** Every page of a channel's history through one server (newest page first), `next` cursors included. */
export async function historyPages(client: ChatClient, service: string, channel: string, limit: number): Promise<BodyOf<'chat.history.reply'>[]> {
  const pages: BodyOf<'chat.history.reply'>[] = [];
  let before: string | undefined;
  for (let page = 0; page < 10_000; page++) {
    const reply = await client.call(service, 'chat.history.request', { channel, limit, ...(before ? { before } : {}) });
    pages.push(reply);
    if (reply.next === undefined) return pages;
    before = reply.next;
  }
  throw new Error('history did not end within 10,000 pages');
}

/** Every direct message between two users through one server, oldest first. */
export async function wholeConversation(client: ChatClient, service: string, user: string, peer: string): Promise<BodyOf<'chat.direct'>[]> {
  const pages: BodyOf<'chat.direct'>[][] = [];
  let before: string | undefined;
  for (let page = 0; page < 10_000; page++) {
    const reply = await client.call(service, 'chat.conversation.request', { user, peer, limit: 500, ...(before ? { before } : {}) });
    pages.unshift(reply.messages);
    if (reply.next === undefined) return pages.flat();
    before = reply.next;
  }
  throw new Error('conversation did not end within 10,000 pages');
}

export interface WriteOutcome {
  readonly attempts: number;
  /** BAD_REQUEST answers for a user or channel the serving server had not learnt yet. */
  readonly notYetReplicated: number;
}

/**
 * Sends one request until it is acknowledged, with one request id throughout (so the store
 * de-duplicates), retrying what a real client retries: retryable errors and timeouts, and a
 * BAD_REQUEST naming a user or channel that the server which served it has not learnt yet (the
 * replication delay). Anything else, or no acknowledgement by `deadline`, fails.
 */
export async function untilAcknowledged<T>(send: (attempt: number) => Promise<T>, deadline: number): Promise<{ reply: T } & WriteOutcome> {
  let notYetReplicated = 0;
  for (let attempt = 1; attempt < 10_000; attempt++) {
    try {
      return { reply: await send(attempt), attempts: attempt, notYetReplicated };
    } catch (error) {
      const failure = CorreioError.from(error);
      const reason = (failure.data as { reason?: string } | undefined)?.reason;
      const unknownYet = failure.code === 'BAD_REQUEST' && (reason === 'unknown_user' || reason === 'unknown_channel');
      if (unknownYet) notYetReplicated++;
      if (!(failure.retryable || unknownYet) || Date.now() > deadline) throw failure;
      await new Promise((resolve) => setTimeout(resolve, Math.min(20 * attempt, 300)));
    }
  }
  throw new Error('too many attempts');
}

/** Counts how often each value occurs. */
export function tally(values: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return counts;
}
