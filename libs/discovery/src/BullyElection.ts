import type { ElectionCoordinator, ElectionElectionReply, ElectionElectionRequest } from '@correio/protocol';

/** A server as the election sees it: its rank and whether the membership view counts it alive. */
export interface ElectionPeer {
  readonly server: string;
  readonly rank: number;
  readonly alive: boolean;
}

/** A coordinator and the term it won. */
export interface CoordinatorInfo {
  readonly server: string;
  readonly rank: number;
  readonly term: number;
}

export type ElectionRole = 'follower' | 'candidate' | 'coordinator';

/** What the application may rely on at one instant. */
export interface ElectionState {
  readonly role: ElectionRole;
  /** True only while this server is coordinator *and* holds its lease: the one flag to act on. */
  readonly acting: boolean;
  /** The highest term seen. */
  readonly term: number;
  /** The coordinator this server follows (itself when coordinator); undefined when none is known. */
  readonly coordinator: CoordinatorInfo | undefined;
}

/** What the driver must do after an input. */
export type ElectionOutput =
  /** Send `election.election.request` to the server's `srv.<to>` service, and report the outcome with `onAnswer(term, to, …)`. */
  | { readonly kind: 'ask'; readonly to: string; readonly term: number; readonly request: ElectionElectionRequest }
  /** Publish `election.coordinator` on the `election/` topic. */
  | { readonly kind: 'announce'; readonly announcement: ElectionCoordinator }
  /** The role, the acting flag or the coordinator changed. */
  | { readonly kind: 'changed'; readonly state: ElectionState; readonly previous: ElectionState };

/** How an `election.election.request` ended, from the candidate's side. */
export type ElectionAnswer = { readonly ok: boolean } | 'failed';

export interface BullyElectionOptions {
  /** This server: its id and the rank the reference server gave it. */
  readonly self: { readonly server: string; readonly rank: number };
  /** How long a candidate waits for answers from higher-ranked servers before it wins. Default 1000 ms. */
  readonly electionTimeoutMs?: number;
  /** After a higher-ranked server answered ok, how long to wait for its announcement before trying again. Default 2 × electionTimeoutMs. */
  readonly coordinatorWaitMs?: number;
  /** A coordinator re-announces itself this often, for late joiners and lost messages. Default electionTimeoutMs. */
  readonly announceIntervalMs?: number;
  /**
   * A follower that has heard no announcement from its coordinator for this long starts an election
   * (its own failure detection, besides the membership view). Default 3 × announceIntervalMs + electionTimeoutMs; 0 disables.
   */
  readonly silenceMs?: number;
  /**
   * How long an acknowledged heartbeat keeps this server entitled to act, counted from when the
   * heartbeat was *sent*. It must not exceed the reference server's `interval × misses`, so that a
   * coordinator stops acting before the reference server can declare it down. Default Infinity (no lease).
   */
  readonly leaseMs?: number;
  /** The highest term seen before (a rank change re-creates the machine and carries it over). Default 0. */
  readonly initialTerm?: number;
}

interface Election {
  readonly term: number;
  phase: 'asking' | 'waiting';
  readonly pending: Set<string>;
  deadline: number;
}

/**
 * The bully election of one server, as a pure state machine: inputs are the membership view,
 * election messages, lease renewals and the time (`now`, monotonic ms); outputs are messages to
 * send and role changes. No timers, no I/O: the driver calls `tick(now)` at `nextTimeout()`.
 *
 * Rules (the live server with the HIGHEST rank coordinates):
 * - An election uses term = highest term seen + 1. The candidate asks every live higher-ranked
 *   server; if none answers ok within `electionTimeoutMs`, it wins and announces itself with that term.
 *   An ok means the higher server takes over: the candidate waits `coordinatorWaitMs` for an
 *   announcement, then tries again.
 * - A server answers ok to a lower-ranked candidate (when it holds its lease) and runs its own election.
 * - Announcements below the highest term seen are ignored; between equal terms the higher rank wins.
 *   A coordinator that accepts another's announcement steps down at once; a server that outranks the
 *   announced coordinator then starts an election of its own (bully).
 * - A follower starts an election when no coordinator is known, the coordinator is not alive in the
 *   membership view (and has not announced since the view marked it down), it outranks the
 *   coordinator, or (`silenceMs`) the coordinator went quiet.
 * - Leases: a server stands for election, answers ok and acts as coordinator only while its lease
 *   holds. A coordinator whose lease lapses steps down. So a coordinator that stopped heartbeating
 *   (paused, cut off from the reference server) stops acting before the reference server declares it
 *   down, and no coordinator acts while the reference server is unreachable.
 */
/** Servers whose announcements are remembered at once; far above any real cluster (the ref lists at most 1000 by default). */
const MAX_ANNOUNCERS = 4096;

/**
 * The highest term taken from a peer (docs/architecture.md, "Clocks and counters under hostile
 * input"): terms count elections, so an honest one never comes near; a term above it, sent once to
 * `srv.<id>` or published on `election/`, would otherwise leave no term to start the next election
 * with (2^53 − 1 + 1 is no term), and no server could be elected again. Above it, an announcement
 * is ignored and a request's term is not adopted; 2^32 elections of room remain.
 */
export const MAX_ADOPTED_TERM = Number.MAX_SAFE_INTEGER - 2 ** 32;

export class BullyElection {
  readonly self: { readonly server: string; readonly rank: number };
  readonly #electionTimeoutMs: number;
  readonly #coordinatorWaitMs: number;
  readonly #announceIntervalMs: number;
  readonly #silenceMs: number;
  readonly #leaseMs: number;
  readonly #peers = new Map<string, ElectionPeer>();
  /**
   * When each peer's last announcement arrived: proof of life that a stale membership view may lack.
   * Anyone can publish on the proxy, so entries are kept for the view's peers only (setPeers prunes)
   * plus, between views, at most MAX_ANNOUNCERS in all.
   */
  readonly #lastAnnounced = new Map<string, number>();
  /** When the membership view last turned each peer down (peers of the current view only). */
  readonly #markedDown = new Map<string, number>();
  #started = false;
  #term: number;
  #role: ElectionRole = 'follower';
  #coordinator: CoordinatorInfo | undefined;
  #lastHeardFromCoordinator = -Infinity;
  #election: Election | undefined;
  #lastElectionStart = -Infinity;
  #lastAnnounce = -Infinity;
  #leaseUntil: number;
  #reported: ElectionState;

  constructor(options: BullyElectionOptions) {
    const { server, rank } = options.self;
    if (!Number.isSafeInteger(rank) || rank < 1) throw new RangeError(`rank must be a positive integer, got ${rank}`);
    this.self = { server, rank };
    this.#electionTimeoutMs = positive(options.electionTimeoutMs ?? 1000, 'electionTimeoutMs');
    this.#coordinatorWaitMs = positive(options.coordinatorWaitMs ?? 2 * this.#electionTimeoutMs, 'coordinatorWaitMs');
    this.#announceIntervalMs = positive(options.announceIntervalMs ?? this.#electionTimeoutMs, 'announceIntervalMs');
    const silence = options.silenceMs ?? 3 * this.#announceIntervalMs + this.#electionTimeoutMs;
    if (!(silence >= 0)) throw new RangeError('silenceMs must be ≥ 0');
    this.#silenceMs = silence === 0 ? Infinity : silence;
    this.#leaseMs = positive(options.leaseMs ?? Infinity, 'leaseMs');
    this.#leaseUntil = this.#leaseMs === Infinity ? Infinity : -Infinity;
    this.#term = options.initialTerm ?? 0;
    if (!Number.isSafeInteger(this.#term) || this.#term < 0) throw new RangeError('initialTerm must be a non-negative integer');
    this.#reported = { role: 'follower', acting: false, term: this.#term, coordinator: undefined };
  }

  /** The state at `now`. `acting` depends on time (the lease), so pass the current time. */
  state(now: number): ElectionState {
    return { role: this.#role, acting: this.#acting(now), term: this.#term, coordinator: this.#coordinator };
  }

  /** Entries held about other servers (view, announcements, down marks): bounded by the view plus MAX_ANNOUNCERS. */
  get remembered(): number {
    return this.#peers.size + this.#lastAnnounced.size + this.#markedDown.size;
  }

  /** True while this server may act as coordinator. */
  isActing(now: number): boolean {
    return this.#acting(now);
  }

  /** True while the lease holds (always, without a lease). */
  leaseValid(now: number): boolean {
    return now < this.#leaseUntil;
  }

  /** Starts taking part: a joining server runs an election (as the bully algorithm prescribes). */
  start(now: number): ElectionOutput[] {
    this.#started = true;
    return this.#settle(now, []);
  }

  /** Replaces the membership view (this server's own entry is ignored). */
  setPeers(peers: Iterable<ElectionPeer>, now: number): ElectionOutput[] {
    const before = new Map(this.#peers);
    this.#peers.clear();
    for (const peer of peers) {
      if (peer.server === this.self.server) continue;
      this.#peers.set(peer.server, peer);
      if (peer.alive) this.#markedDown.delete(peer.server);
      else if (before.get(peer.server)?.alive !== false) this.#markedDown.set(peer.server, now);
    }
    for (const server of this.#lastAnnounced.keys()) if (!this.#peers.has(server)) this.#lastAnnounced.delete(server);
    for (const server of this.#markedDown.keys()) if (!this.#peers.has(server)) this.#markedDown.delete(server);
    const out: ElectionOutput[] = [];
    // Asking a server that has since died is pointless: count it as a failed answer.
    const election = this.#election;
    if (election?.phase === 'asking') {
      for (const server of [...election.pending]) if (!this.#alive(server, now)) election.pending.delete(server);
      if (election.pending.size === 0) this.#finishAsking(now, out);
    }
    return this.#settle(now, out);
  }

  /** A heartbeat (or registration) sent at `sentAt` was acknowledged by the reference server. */
  renewLease(sentAt: number, now: number): ElectionOutput[] {
    // A lease that lapsed before this renewal arrived is settled first: acting stopped at the lapse
    // (isActing said so), so it is reported even when the lapse's timer has not run yet (a busy event loop).
    const out = this.#role === 'coordinator' && !this.leaseValid(now) ? this.#settle(now, []) : [];
    this.#leaseUntil = Math.max(this.#leaseUntil, sentAt + this.#leaseMs);
    return this.#settle(now, out);
  }

  /** The reference server no longer knows this server: no lease until it registers again. */
  revokeLease(now: number): ElectionOutput[] {
    if (this.#leaseMs !== Infinity) this.#leaseUntil = -Infinity;
    return this.#settle(now, []);
  }

  /** Answers an `election.election.request`; the outputs may start this server's own election. */
  onRequest(request: ElectionElectionRequest, now: number): { readonly reply: ElectionElectionReply; readonly outputs: ElectionOutput[] } {
    this.#term = Math.max(this.#term, Math.min(request.term, MAX_ADOPTED_TERM));
    const ok = this.#started && this.leaseValid(now) && this.self.rank > request.rank && request.server !== this.self.server;
    const out: ElectionOutput[] = [];
    if (ok) {
      if (this.#role === 'coordinator' && this.#coordinator !== undefined && request.term <= this.#coordinator.term) {
        // The candidate is not ahead of our term: our announcement (at least its term) stops it.
        this.#announce(now, out);
      } else if (this.#role !== 'candidate') {
        this.#startElection(now, out);
      }
    }
    return { reply: { server: this.self.server, rank: this.self.rank, ok }, outputs: this.#settle(now, out) };
  }

  /** The outcome of an `ask` output: the reply's `ok`, or 'failed' (timeout, no such worker, …). */
  onAnswer(term: number, from: string, answer: ElectionAnswer, now: number): ElectionOutput[] {
    const election = this.#election;
    const out: ElectionOutput[] = [];
    if (election && election.term === term && election.phase === 'asking' && election.pending.has(from)) {
      if (answer !== 'failed' && answer.ok) {
        election.phase = 'waiting';
        election.pending.clear();
        election.deadline = now + this.#coordinatorWaitMs;
      } else {
        election.pending.delete(from);
        if (election.pending.size === 0) this.#finishAsking(now, out);
      }
    }
    return this.#settle(now, out);
  }

  /** An `election.coordinator` announcement (including this server's own, echoed by the proxy). */
  onAnnouncement(announcement: ElectionCoordinator, now: number): ElectionOutput[] {
    const out: ElectionOutput[] = [];
    if (announcement.term > MAX_ADOPTED_TERM) return this.#settle(now, out);
    const current = this.#coordinator;
    const known = this.#peers.has(announcement.server) || this.#lastAnnounced.has(announcement.server);
    if (announcement.server !== this.self.server && (known || this.#lastAnnounced.size < MAX_ANNOUNCERS)) this.#lastAnnounced.set(announcement.server, now);
    if (announcement.server === this.self.server) {
      // Our own echo, or a previous run of this server whose term we must move past.
      if (!(this.#role === 'coordinator' && current?.term === announcement.term)) this.#term = Math.max(this.#term, announcement.term);
      if (this.#role === 'coordinator' && current !== undefined && announcement.term > current.term) this.#stepDown();
      return this.#settle(now, out);
    }
    const stale = announcement.term < this.#term;
    const lostTie = announcement.term === this.#term && current !== undefined && current.term === announcement.term && current.server !== announcement.server && current.rank > announcement.rank;
    if (stale || lostTie) {
      // Tell the sender (and everyone) who coordinates now.
      if (this.#acting(now)) this.#announce(now, out);
      return this.#settle(now, out);
    }
    this.#term = announcement.term;
    if (this.#role === 'coordinator') this.#stepDown();
    this.#election = undefined;
    this.#role = 'follower';
    this.#coordinator = { server: announcement.server, rank: announcement.rank, term: announcement.term };
    this.#lastHeardFromCoordinator = now;
    return this.#settle(now, out);
  }

  /** Advances time: election deadlines, periodic announcements, lease expiry. */
  tick(now: number): ElectionOutput[] {
    return this.#settle(now, []);
  }

  /** When `tick` must run next (monotonic ms), or undefined when nothing is due. */
  nextTimeout(now: number): number | undefined {
    const times: number[] = [];
    if (this.#election) times.push(this.#election.deadline);
    if (this.#role === 'coordinator') {
      times.push(this.#lastAnnounce + this.#announceIntervalMs);
      if (this.#leaseUntil !== Infinity) times.push(this.#leaseUntil);
    } else if (this.#started && this.#coordinator !== undefined) {
      if (this.#silenceMs !== Infinity) times.push(this.#lastHeardFromCoordinator + this.#silenceMs);
      // Alive by its announcements only (the view says down): until they stop.
      if (this.#peers.get(this.#coordinator.server)?.alive === false) times.push(this.#aliveByAnnouncementUntil(this.#coordinator.server));
    }
    // An election held back by the minimum gap between elections becomes possible later.
    if (this.#started && this.#role === 'follower' && this.leaseValid(now) && this.#wantsElection(now)) {
      times.push(this.#lastElectionStart + this.#electionTimeoutMs);
    }
    // Times already past were handled by the last input, or wait for a lease: nothing to wake up for.
    const future = times.filter((time) => Number.isFinite(time) && time > now);
    return future.length === 0 ? undefined : Math.min(...future);
  }

  #acting(now: number): boolean {
    return this.#role === 'coordinator' && now < this.#leaseUntil;
  }

  /** Runs the rules that depend on time and view, then reports a state change if there is one. */
  #settle(now: number, out: ElectionOutput[]): ElectionOutput[] {
    if (this.#role === 'coordinator' && !this.leaseValid(now)) this.#stepDown();
    const election = this.#election;
    if (election && now >= election.deadline) {
      if (election.phase === 'asking') {
        this.#finishAsking(now, out);
      } else {
        // The server that took over never announced: the rules below start another election.
        this.#election = undefined;
        this.#role = 'follower';
      }
    }
    if (this.#election && !this.leaseValid(now)) {
      this.#election = undefined;
      this.#role = 'follower';
    }
    if (this.#role === 'coordinator' && now >= this.#lastAnnounce + this.#announceIntervalMs) this.#announce(now, out);
    if (this.#started && this.#role === 'follower' && this.leaseValid(now) && this.#wantsElection(now)) {
      const bullied = this.#coordinator !== undefined && this.#coordinator.rank < this.self.rank;
      if (bullied || now >= this.#lastElectionStart + this.#electionTimeoutMs) this.#startElection(now, out);
    }
    const state = this.state(now);
    const previous = this.#reported;
    if (
      state.role !== previous.role ||
      state.acting !== previous.acting ||
      state.coordinator?.server !== previous.coordinator?.server ||
      state.coordinator?.term !== previous.coordinator?.term
    ) {
      this.#reported = state;
      out.push({ kind: 'changed', state, previous });
    }
    return out;
  }

  /** Whether a follower should run an election now. */
  #wantsElection(now: number): boolean {
    const coordinator = this.#coordinator;
    if (coordinator === undefined) return true;
    if (coordinator.rank < this.self.rank) return true;
    if (!this.#alive(coordinator.server, now)) return true;
    return now >= this.#lastHeardFromCoordinator + this.#silenceMs;
  }

  /**
   * Alive in the membership view, or heard announcing since the view marked it down and within an
   * announce interval plus an election timeout: a view can lag or, pieced together from events and
   * polls, regress to an older "down", and a follower that trusted it alone would usurp a
   * coordinator that is plainly still announcing, again and again.
   */
  #alive(server: string, now: number): boolean {
    const peer = this.#peers.get(server);
    if (peer === undefined) return false;
    return peer.alive || now < this.#aliveByAnnouncementUntil(server);
  }

  #aliveByAnnouncementUntil(server: string): number {
    const heard = this.#lastAnnounced.get(server);
    if (heard === undefined || heard <= (this.#markedDown.get(server) ?? -Infinity)) return -Infinity;
    return heard + this.#announceIntervalMs + this.#electionTimeoutMs;
  }

  #startElection(now: number, out: ElectionOutput[]): void {
    this.#term += 1;
    const term = this.#term;
    this.#lastElectionStart = now;
    const higher = [...this.#peers.values()].filter((peer) => peer.rank > this.self.rank && this.#alive(peer.server, now));
    if (this.#role === 'coordinator') this.#stepDown();
    if (higher.length === 0) {
      this.#win(term, now, out);
      return;
    }
    this.#role = 'candidate';
    this.#election = { term, phase: 'asking', pending: new Set(higher.map((peer) => peer.server)), deadline: now + this.#electionTimeoutMs };
    const request = { server: this.self.server, rank: this.self.rank, term };
    for (const peer of higher) out.push({ kind: 'ask', to: peer.server, term, request });
  }

  /** No higher-ranked server took over: win, if still entitled to. */
  #finishAsking(now: number, out: ElectionOutput[]): void {
    const election = this.#election!;
    this.#election = undefined;
    if (this.leaseValid(now) && election.term === this.#term) this.#win(election.term, now, out);
    else this.#role = 'follower';
  }

  #win(term: number, now: number, out: ElectionOutput[]): void {
    this.#election = undefined;
    this.#role = 'coordinator';
    this.#coordinator = { server: this.self.server, rank: this.self.rank, term };
    this.#announce(now, out);
  }

  #announce(now: number, out: ElectionOutput[]): void {
    const coordinator = this.#coordinator!;
    this.#lastAnnounce = now;
    out.push({ kind: 'announce', announcement: { server: coordinator.server, rank: coordinator.rank, term: coordinator.term } });
  }

  /** Stops coordinating at once; the coordinator is unknown until an announcement or an election. */
  #stepDown(): void {
    this.#role = 'follower';
    this.#election = undefined;
    if (this.#coordinator?.server === this.self.server) this.#coordinator = undefined;
  }
}

function positive(value: number, name: string): number {
  if (!(value > 0)) throw new RangeError(`${name} must be positive, got ${value}`);
  return value;
}
