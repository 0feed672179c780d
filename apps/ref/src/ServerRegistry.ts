import { OverloadedError } from '@correio/codec';
import type { RefMembership, RefServersReply } from '@correio/protocol';
import type { RegistrySnapshot, RegistryStore, StoredServer } from './RegistryStore.js';

/** One instant on two clocks: `mono` never steps (liveness is measured on it), `wall` is what gets reported. */
export interface Instant {
  readonly mono: number;
  readonly wall: number;
}

export interface ServerRegistryOptions {
  readonly store: RegistryStore;
  /** The interval at which servers are expected to heartbeat, ms. */
  readonly heartbeatIntervalMs: number;
  /** Intervals without a heartbeat after which a server is marked down. */
  readonly misses: number;
  /** A server down this long leaves the list (it keeps its rank and must register again). 0: never. */
  readonly removeAfterMs?: number;
  /** Listed servers at most (ref.servers.reply holds up to 1000). */
  readonly maxListed?: number;
  /**
   * Servers remembered at most, listed or not (default 10 × maxListed, at least maxListed). Anyone
   * can register, so past it the unlisted server seen longest ago is forgotten: it gets a new rank
   * if it ever registers again.
   */
  readonly maxKnown?: number;
}

/** Listed servers at most by default: what one ref.servers.reply holds. */
export const MAX_LISTED = 1000;

/** Where a registering server says it can be reached: informative, shown in ref.servers.reply. */
export interface ServerAddresses {
  /** Its own address. */
  readonly endpoint?: string | undefined;
  /** Its /health and /metrics base URL (revision 1.3). */
  readonly http?: string | undefined;
  /**
   * Its direct endpoint for other servers (revision 1.8). Unlike the others it is not kept when a
   * registration leaves it out: a server restarted without one must not be sought at its old port.
   */
  readonly peer?: string | undefined;
}

export type MembershipEvent = RefMembership;
export type ServerListing = RefServersReply['servers'][number];

interface Live {
  stored: StoredServer;
  alive: boolean;
  lastHeardMono: number;
  lastHeardWall: number;
  downSinceMono: number;
}

/**
 * The reference server's state: ranks (durable, through a RegistryStore) and liveness (in memory).
 *
 * Ranks: a new server gets `nextRank`, and the snapshot recording it is saved *before* the rank is
 * returned, so every rank ever handed out is in the store. A server keeps its rank after it left
 * the list — so re-registering under the same id yields the same rank — until `maxKnown` servers
 * are remembered: then the unlisted one seen longest ago is forgotten, and gets a new rank if it
 * comes back. No rank is ever issued to two servers, across restarts and crashes, because
 * `nextRank` only grows (a crash before the save returns issued nothing; the rank may be issued
 * later to whoever registers next).
 *
 * Liveness: registration and each heartbeat count as hearing from a server. One not heard from for
 * more than `heartbeatIntervalMs × misses` is marked down; heard again, it is up; down for
 * `removeAfterMs` it leaves the list. Each transition yields a `ref.membership` event. After a
 * restart the listed servers are presumed alive for one such period, so that a restart of the
 * reference server does not announce every server down; the ones that do not heartbeat in that time
 * are marked down.
 */
export class ServerRegistry {
  readonly #store: RegistryStore;
  readonly #deadAfterMs: number;
  readonly #removeAfterMs: number;
  readonly #maxListed: number;
  readonly #maxKnown: number;
  /** The servers remembered (at most maxKnown), by id: the durable part. */
  readonly #stored = new Map<string, StoredServer>();
  /** The listed servers' liveness. */
  readonly #live = new Map<string, Live>();
  #nextRank: number;
  #forgotten = 0;

  constructor(options: ServerRegistryOptions, now: Instant) {
    if (!(options.heartbeatIntervalMs > 0) || !Number.isSafeInteger(options.misses) || options.misses < 1) {
      throw new RangeError('heartbeatIntervalMs must be positive and misses a positive integer');
    }
    this.#store = options.store;
    this.#deadAfterMs = options.heartbeatIntervalMs * options.misses;
    this.#removeAfterMs = options.removeAfterMs ?? 300_000;
    this.#maxListed = options.maxListed ?? MAX_LISTED;
    this.#maxKnown = options.maxKnown ?? 10 * this.#maxListed;
    if (!Number.isSafeInteger(this.#maxKnown) || this.#maxKnown < this.#maxListed) {
      throw new RangeError(`maxKnown (${this.#maxKnown}) must be an integer of at least maxListed (${this.#maxListed})`);
    }
    const snapshot = this.#store.load();
    this.#nextRank = snapshot?.nextRank ?? 1;
    for (const stored of snapshot?.servers ?? []) {
      this.#stored.set(stored.server, stored);
      this.#nextRank = Math.max(this.#nextRank, stored.rank + 1);
      if (stored.listed) this.#live.set(stored.server, { stored, alive: true, lastHeardMono: now.mono, lastHeardWall: stored.lastSeen, downSinceMono: 0 });
    }
    // A registry saved with a larger bound (or by a version without one) shrinks at its next save.
    const unlisted = [...this.#stored.values()].filter((stored) => !stored.listed).sort((a, b) => a.lastSeen - b.lastSeen);
    for (const stored of unlisted.slice(0, Math.max(0, this.#stored.size - this.#maxKnown))) {
      this.#stored.delete(stored.server);
      this.#forgotten += 1;
    }
  }

  /** The rank the next new server will get. */
  get nextRank(): number {
    return this.#nextRank;
  }

  /** Servers forgotten to stay within maxKnown since this registry was constructed. */
  get forgotten(): number {
    return this.#forgotten;
  }

  get counts(): { readonly listed: number; readonly alive: number; readonly known: number } {
    let alive = 0;
    for (const live of this.#live.values()) if (live.alive) alive += 1;
    return { listed: this.#live.size, alive, known: this.#stored.size };
  }

  /**
   * Registers a server: its rank (new servers get the next one, durably, before this returns) and the
   * events to publish. `addresses` (its endpoint, its /health URL) are kept as last given: a
   * registration without one keeps the earlier one (its peer endpoint excepted). Throws when the store fails (nothing changed
   * then) or the list is full.
   */
  register(server: string, addresses: ServerAddresses, now: Instant): { readonly rank: number; readonly created: boolean; readonly events: MembershipEvent[] } {
    const known = this.#stored.get(server);
    const listed = this.#live.get(server);
    if (!listed && this.#live.size >= this.#maxListed) {
      throw new OverloadedError(`the server list is full (${this.#maxListed} servers); try again when a dead server has left`, { data: { maxListed: this.#maxListed } });
    }
    let stored: StoredServer;
    if (known === undefined) {
      stored = { server, rank: this.#nextRank, ...definedAddresses(addresses), registeredAt: now.wall, lastSeen: now.wall, listed: true };
      // Full: forget one unlisted server (there is one, as maxKnown ≥ maxListed) in the same save.
      const forget = this.#stored.size >= this.#maxKnown ? this.#longestUnseenUnlisted() : undefined;
      this.#save(this.#nextRank + 1, [stored], forget);
      this.#nextRank += 1;
      if (forget !== undefined) {
        this.#stored.delete(forget);
        this.#forgotten += 1;
      }
    } else if (
      !known.listed ||
      (addresses.endpoint ?? known.endpoint) !== known.endpoint ||
      (addresses.http ?? known.http) !== known.http ||
      addresses.peer !== known.peer
    ) {
      const { peer: _formerPeer, ...kept } = known;
      stored = { ...kept, ...definedAddresses(addresses), lastSeen: now.wall, listed: true };
      this.#save(this.#nextRank, [stored]);
    } else {
      stored = known;
    }
    this.#stored.set(server, stored);
    this.#live.set(server, { stored, alive: true, lastHeardMono: now.mono, lastHeardWall: now.wall, downSinceMono: 0 });
    // Every registration is announced: a server that registers again has restarted, even if it never looked down.
    return { rank: stored.rank, created: known === undefined, events: [{ server, rank: stored.rank, state: 'up', at: now.wall }] };
  }

  /** A heartbeat: `known: false` asks the server to register again (unknown, left, or another rank). */
  heartbeat(server: string, rank: number, now: Instant): { readonly alive: boolean; readonly known: boolean; readonly events: MembershipEvent[] } {
    const live = this.#live.get(server);
    if (live === undefined || live.stored.rank !== rank) return { alive: false, known: false, events: [] };
    live.lastHeardMono = now.mono;
    live.lastHeardWall = now.wall;
    if (live.alive) return { alive: true, known: true, events: [] };
    live.alive = true;
    return { alive: true, known: true, events: [{ server, rank, state: 'up', at: now.wall }] };
  }

  /**
   * Marks silent servers down and long-dead ones as left, recording all of a tick's departures in
   * one save. A store failure leaves them listed (down) and is returned; the next tick tries again.
   */
  tick(now: Instant): { readonly events: MembershipEvent[]; readonly storeError?: unknown } {
    const events: MembershipEvent[] = [];
    for (const live of this.#live.values()) {
      if (live.alive && now.mono - live.lastHeardMono > this.#deadAfterMs) {
        live.alive = false;
        live.downSinceMono = now.mono;
        events.push({ server: live.stored.server, rank: live.stored.rank, state: 'down', at: now.wall });
      }
    }
    if (this.#removeAfterMs === 0) return { events };
    const leaving: StoredServer[] = [];
    for (const live of this.#live.values()) {
      if (!live.alive && now.mono - live.downSinceMono >= this.#removeAfterMs) leaving.push({ ...live.stored, lastSeen: live.lastHeardWall, listed: false });
    }
    if (leaving.length === 0) return { events };
    // One save for every departure of this tick: many servers leaving at once must not mean one fsync each.
    try {
      this.#save(this.#nextRank, leaving);
    } catch (storeError) {
      return { events, storeError };
    }
    for (const stored of leaving) {
      this.#stored.set(stored.server, stored);
      this.#live.delete(stored.server);
      events.push({ server: stored.server, rank: stored.rank, state: 'left', at: now.wall });
    }
    return { events };
  }

  /** The listed servers, ordered by rank, as ref.servers.reply lists them. */
  list(): ServerListing[] {
    return [...this.#live.values()]
      .sort((a, b) => a.stored.rank - b.stored.rank)
      .map((live) => ({
        server: live.stored.server,
        rank: live.stored.rank,
        alive: live.alive,
        last_heartbeat: live.lastHeardWall,
        ...definedAddresses(live.stored),
      }));
  }

  /** Records when each listed server was last heard from (on a clean shutdown), so a restart reports it. */
  checkpoint(): void {
    const updated = new Map(this.#stored);
    for (const live of this.#live.values()) updated.set(live.stored.server, { ...live.stored, lastSeen: live.lastHeardWall });
    this.#store.save(snapshotOf(this.#nextRank, updated.values()));
    for (const [server, stored] of updated) this.#stored.set(server, stored);
    for (const live of this.#live.values()) live.stored = updated.get(live.stored.server)!;
  }

  /** Saves the registry with the `changed` servers replaced (and `forget` left out), before anything in memory changes. */
  #save(nextRank: number, changed: readonly StoredServer[], forget?: string): void {
    const servers = new Map(this.#stored);
    if (forget !== undefined) servers.delete(forget);
    for (const stored of changed) servers.set(stored.server, stored);
    this.#store.save(snapshotOf(nextRank, servers.values()));
  }

  /** The unlisted server with the oldest `lastSeen` (a scan: it runs only when a new server registers, beside a whole-file save). */
  #longestUnseenUnlisted(): string | undefined {
    let oldest: StoredServer | undefined;
    for (const stored of this.#stored.values()) {
      if (!this.#live.has(stored.server) && (oldest === undefined || stored.lastSeen < oldest.lastSeen)) oldest = stored;
    }
    return oldest?.server;
  }
}

/** The addresses that are given, without undefined keys (the snapshot and the replies leave absent ones out). */
function definedAddresses({ endpoint, http, peer }: ServerAddresses): ServerAddresses {
  return { ...(endpoint !== undefined ? { endpoint } : {}), ...(http !== undefined ? { http } : {}), ...(peer !== undefined ? { peer } : {}) };
}

function snapshotOf(nextRank: number, servers: Iterable<StoredServer>): RegistrySnapshot {
  return { nextRank, servers: [...servers].sort((a, b) => a.rank - b.rank) };
}
