import { CorreioError } from '@correio/codec';
import type { ActionContext } from '../context.js';
import { toMillis, type Duration } from '../duration.js';
import type { Middleware } from './Middleware.js';

export interface DeduplicateOptions {
  /** How long an outcome is remembered. Defaults to 60s. */
  readonly ttl?: Duration;
  /** Outcomes remembered at most; the oldest are forgotten first. Defaults to 10,000. */
  readonly max?: number;
}

interface Entry {
  readonly outcome: Promise<unknown>;
  expiresAt: number;
}

/**
 * Serves a retry once: a request whose caller, action and id were seen within `ttl` gets the outcome of
 * the first one (joining it while it still runs) instead of running the handler again. Retryable
 * failures are not remembered, so a retry of a timed-out or overloaded call does run again.
 * Retries that the broker routes to another instance are not seen here: actions that must run at
 * most once still need their own idempotency (such as a unique key in the store).
 */
export function deduplicate(options: DeduplicateOptions = {}): Middleware<ActionContext> {
  const ttl = toMillis(options.ttl ?? 60_000, 'deduplicate.ttl');
  const max = options.max ?? 10_000;
  if (!Number.isInteger(max) || max < 1) throw new RangeError('deduplicate.max must be a positive integer');
  // A Map iterates in insertion order: the first entries are the oldest.
  const seen = new Map<string, Entry>();
  const evict = (now: number) => {
    for (const [key, entry] of seen) {
      if (seen.size <= max && entry.expiresAt > now) break;
      seen.delete(key);
    }
  };
  return (next) => (ctx, params) => {
    const now = Date.now();
    evict(now);
    // The action (or request type) is part of the key: an id reused for another action is not a retry of it.
    const key = `${ctx.caller}\u0000${ctx.action}\u0000${ctx.id}`;
    const known = seen.get(key);
    if (known && known.expiresAt > now) return known.outcome;
    const outcome = next(ctx, params);
    const entry: Entry = { outcome, expiresAt: Number.POSITIVE_INFINITY }; // kept while it runs
    seen.delete(key);
    seen.set(key, entry);
    outcome.then(
      () => (entry.expiresAt = Date.now() + ttl),
      (error: unknown) => {
        if (CorreioError.from(error).retryable) seen.delete(key);
        else entry.expiresAt = Date.now() + ttl;
      },
    );
    return outcome;
  };
}
