import { UnavailableError } from '@correio/codec';
import type { Logger } from '@correio/observability';
import type { TaskJob, TaskSchedule } from '@correio/protocol';
import { jobSize, MAX_BATCH_BYTES } from './jobSize.js';

export interface TaskReplicatorOptions {
  /** The live peers (server ids), read at every copy. */
  readonly peers: () => readonly string[];
  /** Sends `tasks.copy.request` to `srv.<peer>`; resolves once the peer stored the jobs and schedules durably. */
  readonly send: (peer: string, jobs: TaskJob[], schedules: TaskSchedule[]) => Promise<void>;
  /** Servers that hold a job before its change is acknowledged, this one included. Default 2. */
  readonly replicas?: number;
  /** Ms a lazy copy waits for company before it leaves on its own. Default 100. */
  readonly lazyMs?: number;
  readonly logger: Logger;
}

/**
 * How soon a change travels. `now`: it leaves at once for the replicas it is acknowledged by and
 * lazily for the other peers. `lazy` (leases, heartbeats: nothing waits for them): it waits up to
 * `lazyMs` for the next change to the same peer, so a short job's lease travels with its outcome,
 * and only the newer version of the job at that.
 */
export type CopyUrgency = 'now' | 'lazy';

/** Jobs per tasks.copy request (the protocol's maxItems). */
const BATCH_JOBS = 1_000;
/** Jobs waiting for one peer at most: past it a copy to that peer fails at once (the peer is behind). */
const MAX_WAITING_JOBS = 20_000;

interface Waiting {
  readonly jobs: readonly TaskJob[];
  readonly schedules: readonly TaskSchedule[];
  readonly done: (ok: boolean) => void;
}

/**
 * Copies the coordinator's job changes to the other servers (protocol README, revision 1.6). A
 * change goes first to the `replicas − 1` replicas (the first live peers by id; the next one
 * stands in for one that fails) and resolves once they stored it durably; the other peers get it
 * lazily, batched with whatever else changed within `lazyMs`, so a new coordinator that is not a
 * replica starts its merge nearly current. Changes made meanwhile travel together: a few requests in
 * flight per peer (PeerChannel), so a burst of enqueues costs a few round trips rather than one each.
 */
export class TaskReplicator {
  readonly #options: TaskReplicatorOptions;
  readonly #channels = new Map<string, PeerChannel>();

  constructor(options: TaskReplicatorOptions) {
    this.#options = options;
  }

  get replicas(): number {
    return this.#options.replicas ?? 2;
  }

  /**
   * Resolves once `replicas − 1` peers (every live one, when fewer are up) hold the change durably;
   * UNAVAILABLE (retryable) when too few could store it. Copies to one peer complete in the order
   * they were made, so `then` callbacks of one job's changes run in the order of its versions.
   */
  copy(jobs: readonly TaskJob[], schedules: readonly TaskSchedule[] = [], urgency: CopyUrgency = 'now'): Promise<void> {
    const peers = [...this.#options.peers()].sort();
    const need = Math.min(this.replicas - 1, peers.length);
    return new Promise<void>((resolve, reject) => {
      const stored = new Set<string>();
      let pending = 0;
      let next = need;
      let settled = need === 0;
      if (settled) resolve();
      const send = (peer: string, urgent: boolean, counts: boolean): void => {
        if (counts) pending++;
        const done = counts ? (ok: boolean) => outcome(peer, ok) : () => undefined;
        this.#channel(peer).push({ jobs, schedules, done }, urgent);
      };
      const outcome = (peer: string, ok: boolean): void => {
        pending--;
        if (settled) return;
        if (ok) stored.add(peer);
        // A replica that failed: the next peer stands in, at once.
        else if (next < peers.length) send(peers[next++]!, true, true);
        if (stored.size >= need) {
          settled = true;
          resolve();
        } else if (stored.size + pending < need) {
          settled = true;
          reject(new UnavailableError(`the change reached ${stored.size} of the ${need} other servers it needs (replicas ${this.replicas}); retry`, { data: { reason: 'replication', stored: stored.size, need } }));
        }
      };
      for (const [index, peer] of peers.entries()) send(peer, index < need && urgency === 'now', index < need);
    });
  }

  /** Forgets peers' queues (their waiting copies fail); a coordinator that steps down calls it. */
  clear(): void {
    for (const channel of this.#channels.values()) channel.clear();
    this.#channels.clear();
  }

  #channel(peer: string): PeerChannel {
    let channel = this.#channels.get(peer);
    if (channel === undefined) this.#channels.set(peer, (channel = new PeerChannel(peer, this.#options)));
    return channel;
  }
}

/** Jobs in copies of at most BATCH_JOBS jobs and about MAX_BATCH_BYTES each (one batch, empty, when there are none). */
function inBatches(jobs: readonly TaskJob[]): TaskJob[][] {
  // One job always fits (every job kept passed jobSize): measuring it would encode it once more.
  if (jobs.length <= 1) return [[...jobs]];
  const batches: TaskJob[][] = [[]];
  let bytes = 0;
  for (const job of jobs) {
    const size = jobSize(job);
    const jobBytes = 'bytes' in size ? size.bytes : 0;
    const current = batches.at(-1)!;
    if (current.length > 0 && (current.length >= BATCH_JOBS || bytes + jobBytes > MAX_BATCH_BYTES)) {
      batches.push([job]);
      bytes = jobBytes;
    } else {
      current.push(job);
      bytes += jobBytes;
    }
  }
  return batches;
}

function size(entry: Waiting): number {
  return entry.jobs.length + entry.schedules.length;
}

/** Copy requests one peer has in flight at most: later changes wait for one of them to come back. */
const MAX_IN_FLIGHT = 4;

/**
 * One peer's queue of copies, sent in batches: at once for an urgent one, else after `lazyMs`. Up
 * to MAX_IN_FLIGHT batches travel at once (the peer keeps the higher version of a job whichever
 * arrives first), but their copies complete in the order they were made.
 */
class PeerChannel {
  readonly #peer: string;
  readonly #options: TaskReplicatorOptions;
  #waiting: Waiting[] = [];
  #waitingJobs = 0;
  #inFlight = 0;
  /** Settles once every batch sent so far has told its copies how it went. */
  #completed: Promise<void> = Promise.resolve();
  #lazyTimer: NodeJS.Timeout | undefined;

  constructor(peer: string, options: TaskReplicatorOptions) {
    this.#peer = peer;
    this.#options = options;
  }

  push(entry: Waiting, urgent: boolean): void {
    if (this.#waitingJobs + size(entry) > MAX_WAITING_JOBS) {
      entry.done(false);
      return;
    }
    this.#waiting.push(entry);
    this.#waitingJobs += size(entry);
    // A batch in flight takes what waits when it comes back.
    if (this.#inFlight > 0 && (!urgent || this.#inFlight >= MAX_IN_FLIGHT)) return;
    if (urgent) this.#pump();
    else this.#lazyTimer ??= setTimeout(() => this.#pump(), this.#options.lazyMs ?? 100);
  }

  clear(): void {
    clearTimeout(this.#lazyTimer);
    this.#lazyTimer = undefined;
    const waiting = this.#waiting;
    this.#waiting = [];
    this.#waitingJobs = 0;
    for (const entry of waiting) entry.done(false);
  }

  #pump(): void {
    clearTimeout(this.#lazyTimer);
    this.#lazyTimer = undefined;
    // Everything waiting goes, lazy copies too: they cost little beside a request that leaves anyway.
    while (this.#inFlight < MAX_IN_FLIGHT && this.#waiting.length > 0) this.#sendBatch();
  }

  #sendBatch(): void {
    const batch: Waiting[] = [];
    const byId = new Map<string, TaskJob>();
    const byName = new Map<string, TaskSchedule>();
    while (this.#waiting.length > 0 && (batch.length === 0 || byId.size + byName.size + size(this.#waiting[0]!) <= BATCH_JOBS)) {
      const entry = this.#waiting.shift()!;
      this.#waitingJobs -= size(entry);
      batch.push(entry);
      // Of two versions of a job (or schedule) in one batch only the newer travels.
      for (const job of entry.jobs) if ((byId.get(job.id)?.version ?? 0) < job.version) byId.set(job.id, job);
      for (const schedule of entry.schedules) if ((byName.get(schedule.name)?.version ?? 0) < schedule.version) byName.set(schedule.name, schedule);
    }
    this.#inFlight++;
    const sent = this.#send([...byId.values()], [...byName.values()]);
    const earlier = this.#completed;
    this.#completed = (async () => {
      const ok = await sent;
      await earlier;
      for (const entry of batch) entry.done(ok);
    })();
    void sent.then(() => {
      this.#inFlight--;
      this.#pump();
    });
  }

  /** True once the peer stored every job and schedule durably. */
  async #send(jobs: TaskJob[], schedules: TaskSchedule[]): Promise<boolean> {
    try {
      for (const [index, part] of inBatches(jobs).entries()) await this.#options.send(this.#peer, part, index === 0 ? schedules : []);
      return true;
    } catch (error) {
      this.#options.logger.debug({ err: error, peer: this.#peer, jobs: jobs.length }, 'a task copy to a peer failed');
      return false;
    }
  }
}
