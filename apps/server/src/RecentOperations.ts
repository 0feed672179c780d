import type { Operation } from '@correio/protocol';

/** One applied operation as a dashboard shows it (defs.json `dashboardOp`): who did what, where; never a text or a password hash. */
export interface RecentOperation {
  readonly origin: string;
  readonly seq: number;
  readonly kind: string;
  /** The operation's HLC wall time, ms since the epoch. */
  readonly at: number;
  readonly summary: string;
}

/** How many operations /health shows (defs.json `dashboardNode.recent_ops` maxItems). */
export const RECENT_OPERATIONS = 20;

/**
 * The newest operations this server applied, its own and replicated ones, in a fixed ring: adding
 * one is O(1) and keeps only the summary, so no message text stays referenced from here.
 */
export class RecentOperations {
  readonly #ring: (RecentOperation | undefined)[];
  #next = 0;

  constructor(readonly capacity = RECENT_OPERATIONS) {
    this.#ring = new Array<RecentOperation | undefined>(capacity);
  }

  add(op: Operation): void {
    this.#ring[this.#next] = { origin: op.op.origin, seq: op.op.seq, kind: op.kind, at: op.hlc[0], summary: summarize(op) };
    this.#next = (this.#next + 1) % this.capacity;
  }

  /** The operations held, newest first. */
  newestFirst(): RecentOperation[] {
    const newest: RecentOperation[] = [];
    for (let back = 1; back <= this.capacity; back++) {
      const entry = this.#ring[(this.#next - back + this.capacity) % this.capacity];
      if (entry === undefined) break;
      newest.push(entry);
    }
    return newest;
  }
}

/** "ana in general", "ana → rui", "ana registered": names only (user names and channels are at most 64 characters). */
export function summarize(op: Operation): string {
  switch (op.kind) {
    case 'publish':
      return `${op.data.user} in ${op.data.channel}`;
    case 'direct':
      return `${op.data.user} → ${op.data.to}`;
    case 'channel.create':
      return `${op.data.user} created ${op.data.channel}`;
    case 'register':
      return `${op.data.user} registered`;
    case 'login':
      return `${op.data.user} logged in`;
    case 'logout':
      return `${op.data.user} logged out`;
    case 'password':
      return `${op.data.user} changed password`;
    case 'config.set':
      return `${op.data.author} set ${op.data.program}${op.data.instance === undefined ? '' : ` ${op.data.instance}`} config v${op.data.version}`;
  }
}
