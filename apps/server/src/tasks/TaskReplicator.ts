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
  readonly logger: Logger;
}

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
 * Copies the coordinator's job changes to the other servers (protocol README, revision 1.6): every
 * change goes to every live peer, and resolves once `replicas − 1` of them (or every live one, when
 * fewer are up) stored it durably. Changes made meanwhile travel together: one request in flight
 * per peer, so a burst of enqueues costs a few round trips rather than one each.
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

  /** Resolves once enough servers hold `jobs`; UNAVAILABLE (retryable) when too few could store them. */
  copy(jobs: readonly TaskJob[], schedules: readonly TaskSchedule[] = []): Promise<void> {
    const peers = this.#options.peers();
    const need = Math.min(this.replicas - 1, peers.length);
    return new Promise<void>((resolve, reject) => {
      let stored = 0;
      let failed = 0;
      let settled = false;
      const done = (ok: boolean): void => {
        if (ok) stored++;
        else failed++;
        if (settled) return;
        if (stored >= need) {
          settled = true;
          resolve();
        } else if (failed > peers.length - need) {
          settled = true;
          reject(new UnavailableError(`the change reached ${stored} of the ${need} other servers it needs (replicas ${this.replicas}); retry`, { data: { reason: 'replication', stored, need } }));
        }
      };
      if (need === 0) {
        settled = true;
        resolve();
      }
      for (const peer of peers) this.#channel(peer).push({ jobs, schedules, done });
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

/** One peer's queue of copies, sent a batch at a time. */
class PeerChannel {
  readonly #peer: string;
  readonly #options: TaskReplicatorOptions;
  #waiting: Waiting[] = [];
  #waitingJobs = 0;
  #sending = false;

  constructor(peer: string, options: TaskReplicatorOptions) {
    this.#peer = peer;
    this.#options = options;
  }

  push(entry: Waiting): void {
    if (this.#waitingJobs + size(entry) > MAX_WAITING_JOBS) {
      entry.done(false);
      return;
    }
    this.#waiting.push(entry);
    this.#waitingJobs += size(entry);
    if (!this.#sending) void this.#flush();
  }

  clear(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    this.#waitingJobs = 0;
    for (const entry of waiting) entry.done(false);
  }

  async #flush(): Promise<void> {
    this.#sending = true;
    try {
      for (let rounds = 0; this.#waiting.length > 0 && rounds < 1_000_000; rounds++) {
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
        let ok = true;
        try {
          const jobs = [...byId.values()];
          const schedules = [...byName.values()];
          for (const [index, part] of inBatches(jobs).entries()) await this.#options.send(this.#peer, part, index === 0 ? schedules : []);
        } catch (error) {
          ok = false;
          this.#options.logger.debug({ err: error, peer: this.#peer, jobs: byId.size }, 'a task copy to a peer failed');
        }
        for (const entry of batch) entry.done(ok);
      }
    } finally {
      this.#sending = false;
    }
  }
}
