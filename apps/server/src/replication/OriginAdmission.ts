import type { Operation } from '@correio/protocol';
import type { Logger } from 'pino';

/** One warning line per this many ms at most, however many operations are refused. */
const WARN_INTERVAL_MS = 10_000;
/** onUnlisted at most once per this many ms: a flood of forged origins costs the reference server one list request a second. */
const UNLISTED_INTERVAL_MS = 1_000;

export interface OriginAdmissionOptions {
  /** This server's id: its own operations are always admitted (catch-up fetches them back). */
  readonly self: string;
  /** Every server the membership lists, alive or not, as known now. */
  readonly members: () => readonly string[];
  /** True when the store already holds operations of `origin` (admitted when it was listed). */
  readonly held: (origin: string) => boolean;
  readonly logger: Logger;
  /** Told how many operations were refused, for a counter. */
  readonly onRefused: (count: number) => void;
  /**
   * Told the origins refused, at most once a second: a server that just joined may be missing only
   * from this server's copy of the list, so it is read again (the origin retries, or anti-entropy
   * brings the operations).
   */
  readonly onUnlisted?: (origins: readonly string[]) => void;
  /**
   * True for an origin this server hears of as a live server: one missing only from its copy of
   * the list (servers starting together), said at info rather than as a warning.
   */
  readonly heardOf?: (origin: string) => boolean;
}

/**
 * Which origins' replicated operations this server stores: its own, those of the servers the
 * membership lists (alive or not), and those it already holds (a server the list dropped long
 * after its operations arrived). Anyone can publish on `replica/` and name any origin, so without
 * this a publisher could grow the store, its per-origin high-water marks and their metric series
 * without end. A refused operation is dropped and counted, never stored; an operation of a server
 * not listed yet (start-up race) comes back by anti-entropy once it is.
 *
 * Not authentication: a publisher can still name a real server's id (see docs/architecture.md).
 */
export class OriginAdmission {
  readonly #options: OriginAdmissionOptions;
  /** When each kind of line was last written: a benign "not listed yet" must not hold back a made-up origin's warning. */
  readonly #lastLine = { notListedYet: Number.NEGATIVE_INFINITY, madeUp: Number.NEGATIVE_INFINITY };
  #lastUnlisted = Number.NEGATIVE_INFINITY;
  readonly #suppressed = { notListedYet: 0, madeUp: 0 };

  constructor(options: OriginAdmissionOptions) {
    this.#options = options;
  }

  /** The origins of `ops` this server does not accept, each once. */
  unknownOrigins(ops: readonly Operation[]): string[] {
    let members: Set<string> | undefined;
    const unknown = new Set<string>();
    for (const { op } of ops) {
      if (op.origin === this.#options.self || unknown.has(op.origin)) continue;
      members ??= new Set(this.#options.members());
      if (!members.has(op.origin) && !this.#options.held(op.origin)) unknown.add(op.origin);
    }
    return [...unknown];
  }

  /** The operations of `ops` from accepted origins; the rest are counted and warned about (`via`: the path they came by). */
  admit(ops: readonly Operation[], via: string): readonly Operation[] {
    const unknown = this.unknownOrigins(ops);
    if (unknown.length === 0) return ops;
    const refused = new Set(unknown);
    const admitted = ops.filter(({ op }) => !refused.has(op.origin));
    this.refused(ops.length - admitted.length, unknown, via);
    return admitted;
  }

  /** Counts `count` refused operations and says so, each kind of line at most once per 10 s (with how many were held back). */
  refused(count: number, origins: readonly string[], via: string): void {
    this.#options.onRefused(count);
    const now = performance.now();
    if (this.#options.onUnlisted && now - this.#lastUnlisted >= UNLISTED_INTERVAL_MS) {
      this.#lastUnlisted = now;
      this.#options.onUnlisted(origins);
    }
    const heardOf = this.#options.heardOf;
    const kind = heardOf !== undefined && origins.every(heardOf) ? 'notListedYet' : 'madeUp';
    if (now - this.#lastLine[kind] < WARN_INTERVAL_MS) {
      this.#suppressed[kind]++;
      return;
    }
    const suppressed = this.#suppressed[kind];
    const fields = { via, refused: count, origins: origins.slice(0, 5), ...(suppressed > 0 ? { suppressedWarnings: suppressed } : {}) };
    if (kind === 'notListedYet') {
      this.#options.logger.info(fields, 'replicated operations from live servers this one does not list yet were dropped; the list is read again, and they come back by anti-entropy');
    } else {
      this.#options.logger.warn(fields, 'replicated operations from origins the cluster membership does not list were dropped (not stored)');
    }
    this.#lastLine[kind] = now;
    this.#suppressed[kind] = 0;
  }
}
