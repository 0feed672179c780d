import { UnavailableError } from '@correio/codec';
import type { RefMembership, RefServersReply } from '@correio/protocol';

/** One server in the cached list. */
export interface ServerInfo {
  readonly server: string;
  readonly rank: number;
  readonly alive: boolean;
  /** When the reference server last heard from it (its clock, ms since the epoch); 0 when only an event told us about it. */
  readonly lastHeartbeat: number;
  readonly endpoint?: string;
  /** Its /health and /metrics base URL, when it registered one. */
  readonly http?: string;
  /** Where other servers reach it directly, without the broker (revision 1.8), when it registered one. */
  readonly peer?: string;
}

export type MembershipState = RefMembership['state'];

/** A change of the cached list: a server came up, went down or left the list. */
export interface MembershipChange {
  readonly server: string;
  readonly rank: number;
  readonly state: MembershipState;
  /** Where the change was learned: a `ref.membership` event or a `ref.servers` list. */
  readonly source: 'event' | 'list';
}

interface Entry {
  info: ServerInfo;
  /** The reference server's time of the latest information about this server (stale events are skipped). */
  stamp: number;
}

/**
 * Servers an event may add between two lists. Anyone can publish on the proxy, so events naming
 * ever new servers must not grow the cache without end; a list (from the ref, which lists at most
 * 1000 by default) replaces it whatever its size.
 */
export const MAX_SERVERS_FROM_EVENTS = 4096;

export interface ServerDirectoryOptions {
  /**
   * Events kept for the list requests in flight, at most (default 10000). Anyone can publish
   * membership events, so past it those requests are abandoned — their replies are refused — and
   * the next refresh asks again.
   */
  readonly maxLoggedEvents?: number;
}

/**
 * The cached server list, merged from two sources that travel on different sockets: full lists
 * (`ref.servers.reply`) and `ref.membership` events. It keeps working when the reference server is
 * down: the last known list stays, and changes resume when the reference server comes back.
 *
 * A list is authoritative as of its reply, but events may overtake it in flight. So `beginList()`
 * marks the event log before the request goes out, and `applyList()` replays the events received
 * since, keeping each only when it is at least as new (by the reference server's own timestamps)
 * as what the list says about that server. Events are applied in publication order and skipped
 * only when older than the entry they would change; the events kept meanwhile are bounded
 * (`maxLoggedEvents`). Pure data structure: no I/O, no timers.
 */
export class ServerDirectory {
  readonly #entries = new Map<string, Entry>();
  /** The servers the latest `ref.servers` list named: what events alone (anyone can publish them) cannot add to. */
  #listedByRef: ReadonlySet<string> = new Set();
  readonly #maxLoggedEvents: number;
  #coordinator: string | undefined;
  /** Events received since the oldest list request in flight. */
  #log: RefMembership[] = [];
  #logStart = 0;
  readonly #openLists = new Set<number>();

  constructor(options: ServerDirectoryOptions = {}) {
    this.#maxLoggedEvents = options.maxLoggedEvents ?? 10_000;
  }

  /** Events kept for the list requests in flight (at most maxLoggedEvents). */
  get loggedEvents(): number {
    return this.#log.length;
  }

  /** Every server, ordered by rank. */
  /** The servers the latest list from the reference server named, alive or not (events add none). */
  get listedByRef(): ReadonlySet<string> {
    return this.#listedByRef;
  }

  get servers(): ServerInfo[] {
    return [...this.#entries.values()].map((entry) => entry.info).sort((a, b) => a.rank - b.rank);
  }

  /** One server's cached entry, if it is listed. */
  info(server: string): ServerInfo | undefined {
    return this.#entries.get(server)?.info;
  }

  /** The servers counted alive, ordered by rank. */
  get live(): ServerInfo[] {
    return this.servers.filter((info) => info.alive);
  }

  /** The coordinator named by the latest list (the reference server's view); undefined when none. */
  get coordinatorHint(): string | undefined {
    return this.#coordinator;
  }

  get(server: string): ServerInfo | undefined {
    return this.#entries.get(server)?.info;
  }

  /** Call before sending `ref.servers.request`; pass the token to `applyList` (or `abandonList`). */
  beginList(): number {
    const token = this.#logStart + this.#log.length;
    this.#openLists.add(token);
    return token;
  }

  /** The list request of `token` failed: stop keeping events for it. */
  abandonList(token: number): void {
    this.#openLists.delete(token);
    this.#trimLog();
  }

  /**
   * Replaces the cache with a list, then replays the events that arrived while it was in flight.
   * Throws UnavailableError (retryable) for a list abandoned because too many events arrived
   * meanwhile: they were not kept, so the list cannot be merged safely; nothing changes.
   */
  applyList(token: number, reply: RefServersReply): MembershipChange[] {
    if (!this.#openLists.has(token)) {
      throw new UnavailableError(`more than ${this.#maxLoggedEvents} membership events arrived while the server list was requested; ask again`, {
        data: { maxLoggedEvents: this.#maxLoggedEvents },
      });
    }
    const before = this.#snapshot();
    this.#entries.clear();
    for (const item of reply.servers) {
      const info: ServerInfo = {
        server: item.server,
        rank: item.rank,
        alive: item.alive,
        lastHeartbeat: item.last_heartbeat,
        ...(item.endpoint !== undefined ? { endpoint: item.endpoint } : {}),
        ...(item.http !== undefined ? { http: item.http } : {}),
        ...(item.peer !== undefined ? { peer: item.peer } : {}),
      };
      this.#entries.set(item.server, { info, stamp: item.last_heartbeat });
    }
    this.#coordinator = reply.coordinator;
    this.#listedByRef = new Set(reply.servers.map((item) => item.server));
    for (const event of this.#log.slice(Math.max(0, token - this.#logStart))) this.#apply(event);
    this.#openLists.delete(token);
    this.#trimLog();
    return diff(before, this.#snapshot(), 'list');
  }

  /** Applies one `ref.membership` event. */
  applyEvent(event: RefMembership): MembershipChange[] {
    if (this.#log.length >= this.#maxLoggedEvents) {
      this.#openLists.clear();
      this.#trimLog();
    }
    if (this.#openLists.size > 0) this.#log.push(event);
    const before = this.#entries.get(event.server)?.info;
    this.#apply(event);
    const after = this.#entries.get(event.server)?.info;
    return diffOne(event.server, before, after, 'event');
  }

  #apply(event: RefMembership): void {
    const entry = this.#entries.get(event.server);
    if (entry !== undefined && event.at < entry.stamp) return; // older than what we know
    if (entry === undefined && this.#entries.size >= MAX_SERVERS_FROM_EVENTS) return;
    if (event.state === 'left') {
      this.#entries.delete(event.server);
      return;
    }
    const previous = entry?.info;
    const info: ServerInfo = {
      server: event.server,
      rank: event.rank,
      alive: event.state === 'up',
      lastHeartbeat: event.state === 'up' ? event.at : (previous?.lastHeartbeat ?? 0),
      // Events carry no addresses: the list's stay while the server keeps its rank.
      ...(previous !== undefined && previous.rank === event.rank ? addressesOf(previous) : {}),
    };
    this.#entries.set(event.server, { info, stamp: event.at });
  }

  #trimLog(): void {
    if (this.#openLists.size === 0) {
      this.#logStart += this.#log.length;
      this.#log = [];
      return;
    }
    const oldest = Math.min(...this.#openLists);
    const drop = oldest - this.#logStart;
    if (drop > 0) {
      this.#log = this.#log.slice(drop);
      this.#logStart = oldest;
    }
  }

  #snapshot(): Map<string, ServerInfo> {
    return new Map([...this.#entries].map(([server, entry]) => [server, entry.info]));
  }
}

function diff(before: Map<string, ServerInfo>, after: Map<string, ServerInfo>, source: MembershipChange['source']): MembershipChange[] {
  const changes: MembershipChange[] = [];
  for (const server of new Set([...before.keys(), ...after.keys()])) changes.push(...diffOne(server, before.get(server), after.get(server), source));
  return changes.sort((a, b) => a.rank - b.rank);
}

function diffOne(server: string, before: ServerInfo | undefined, after: ServerInfo | undefined, source: MembershipChange['source']): MembershipChange[] {
  if (after === undefined) return before === undefined ? [] : [{ server, rank: before.rank, state: 'left', source }];
  const state: MembershipState = after.alive ? 'up' : 'down';
  if (before !== undefined && before.alive === after.alive && before.rank === after.rank) return [];
  // A server first seen down is news too: it is listed, but not alive.
  return [{ server, rank: after.rank, state, source }];
}

function addressesOf({ endpoint, http, peer }: ServerInfo): Pick<ServerInfo, 'endpoint' | 'http' | 'peer'> {
  return { ...(endpoint !== undefined ? { endpoint } : {}), ...(http !== undefined ? { http } : {}), ...(peer !== undefined ? { peer } : {}) };
}
