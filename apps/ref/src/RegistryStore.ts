/** What the reference server keeps across restarts: every rank it ever issued, and which servers are listed. */
export interface RegistrySnapshot {
  /** The next rank to issue: above every rank ever issued, also ranks of servers that left. */
  readonly nextRank: number;
  readonly servers: readonly StoredServer[];
}

export interface StoredServer {
  readonly server: string;
  readonly rank: number;
  readonly endpoint?: string;
  /** Its /health and /metrics base URL (revision 1.3), if it registered one. */
  readonly http?: string;
  /** Its direct endpoint for other servers (revision 1.8), if its latest registration gave one. */
  readonly peer?: string;
  /** When the server first registered (ms since the epoch). */
  readonly registeredAt: number;
  /** The latest time the reference server had heard from it when this record was written. */
  readonly lastSeen: number;
  /** False once the server left the list (down for too long); its rank stays reserved for it. */
  readonly listed: boolean;
}

/**
 * Durable storage of the registry. Synchronous on purpose, like @correio/clocks' ClockStore:
 * `save()` returns only once the snapshot is durable, because the reference server replies with a
 * rank as soon as it returns. A `save()` that throws must leave the previous snapshot in place.
 */
export interface RegistryStore {
  /** The last saved snapshot, or undefined when nothing was ever saved. */
  load(): RegistrySnapshot | undefined;
  save(snapshot: RegistrySnapshot): void;
}

/** A store in memory, for tests and for a reference server that may forget (not for production). */
export class InMemoryRegistryStore implements RegistryStore {
  #snapshot: RegistrySnapshot | undefined;
  saves = 0;

  constructor(initial?: RegistrySnapshot) {
    this.#snapshot = initial;
  }

  load(): RegistrySnapshot | undefined {
    return this.#snapshot;
  }

  save(snapshot: RegistrySnapshot): void {
    this.#snapshot = structuredClone(snapshot);
    this.saves += 1;
  }
}
