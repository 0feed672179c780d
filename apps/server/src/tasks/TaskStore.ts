import { mkdirSync } from 'node:fs';
import { decode, encode } from '@correio/codec';
import type { TaskJob, TaskSchedule } from '@correio/protocol';
import { open, type Database, type Key, type RootDatabase } from 'lmdb';
import { timerOf } from './jobStates.js';
import { MAX_BATCH_BYTES, storedBytes } from './jobSize.js';

export interface TaskStoreOptions {
  /** The store's directory (created when missing). */
  readonly path: string;
}

type TaskState = TaskJob['state'];
/** Jobs held, per queue and then per state (tasks.list.reply `counts`). */
export type TaskCounts = Record<string, Record<string, number>>;

/** Synced commits: a job change is acknowledged once on disk. */
const SYNC_MODE = { noSync: false, noMetaSync: false, overlappingSync: false } as const;

type DueKey = [queue: string, rank: number, runAt: number, id: string];
type TimerKey = [at: number, id: string];

/**
 * The task queue's store (protocol revision 1.6): every job by id, as the codec encodes it (so a
 * hostile value in args or a result comes back exactly as the wire carried it), an index of the
 * queued jobs by queue, priority and due time (what a lease takes), and one timer per job that
 * waits for a time (a schedule, a backoff, a lease's end, a finished job's expiry). Its own LMDB
 * environment, apart from the chat store. Every server holds one: the coordinator's decisions,
 * and the copies it sends to the others.
 */
export class TaskStore {
  readonly #env: RootDatabase;
  readonly #jobs: Database<Uint8Array, string>;
  readonly #due: Database<true, Key>;
  readonly #timers: Database<true, Key>;
  readonly #schedules: Database<Uint8Array, string>;
  readonly #counts = new Map<string, Map<TaskState, number>>();

  constructor(options: TaskStoreOptions) {
    mkdirSync(options.path, { recursive: true });
    this.#env = open({ path: options.path, compression: false, maxDbs: 5, ...SYNC_MODE });
    this.#jobs = this.#env.openDB({ name: 'jobs', encoding: 'binary' });
    this.#due = this.#env.openDB({ name: 'due' });
    this.#timers = this.#env.openDB({ name: 'timers' });
    this.#schedules = this.#env.openDB({ name: 'schedules', encoding: 'binary' });
    for (const { value } of this.#jobs.getRange()) {
      const job = decodeJob(value);
      this.#count(job, 1);
    }
  }

  get(id: string): TaskJob | undefined {
    return this.getWithSize(id)?.job;
  }

  /** The job and its size as stored, which is its size encoded inside a message (no second encoding to measure it). */
  getWithSize(id: string): { job: TaskJob; bytes: number } | undefined {
    const stored = this.#jobs.get(id);
    return stored === undefined ? undefined : { job: decodeJob(stored), bytes: stored.length };
  }

  /**
   * Runs `change` in one write transaction and resolves once it is durable: reads inside see every
   * earlier change, so decisions made there are serialised (two leases never take one job).
   */
  transaction<T>(change: () => T): Promise<T> {
    return this.#env.transaction(change);
  }

  /** Writes a job's new version with its index entries; inside transaction(). */
  put(job: TaskJob): void {
    const held = this.get(job.id);
    if (held !== undefined) this.#unindex(held);
    this.#jobs.put(job.id, storedBytes(job));
    this.#index(job);
  }

  /** Deletes a job and its index entries; inside transaction(). */
  remove(id: string): void {
    const held = this.get(id);
    if (held === undefined) return;
    this.#unindex(held);
    this.#jobs.remove(id);
  }

  /** Keeps copies newer than the ones held (higher version); returns how many. Durable when it resolves. */
  merge(jobs: readonly TaskJob[], schedules: readonly TaskSchedule[] = []): Promise<number> {
    return this.transaction(() => {
      let stored = 0;
      for (const job of jobs) {
        const held = this.get(job.id);
        if (held !== undefined && held.version >= job.version) continue;
        this.put(job);
        stored++;
      }
      for (const schedule of schedules) {
        const held = this.schedule(schedule.name);
        if (held !== undefined && held.version >= schedule.version) continue;
        this.putSchedule(schedule);
        stored++;
      }
      return stored;
    });
  }

  /** A schedule by name, removed ones (tombstones) included. */
  schedule(name: string): TaskSchedule | undefined {
    const bytes = this.#schedules.get(name);
    return bytes === undefined ? undefined : (decode(bytes) as TaskSchedule);
  }

  /** Inside transaction(). */
  putSchedule(schedule: TaskSchedule): void {
    this.#schedules.put(schedule.name, encode(schedule));
  }

  /** Every schedule by name, at most `limit`; `removed`: tombstones too. */
  schedules(limit: number, removed = false): TaskSchedule[] {
    const found: TaskSchedule[] = [];
    for (const { value } of this.#schedules.getRange()) {
      const schedule = decode(value) as TaskSchedule;
      if (schedule.removed && !removed) continue;
      if (found.length >= limit) break;
      found.push(schedule);
    }
    return found;
  }

  /** Ids of queued jobs of `queue`, highest priority first, then the longest due; at most `limit`. */
  *dueIds(queue: string, limit: number): Generator<string> {
    let taken = 0;
    for (const key of this.#due.getKeys({ start: [queue], end: [queue, 10] })) {
      if (taken++ >= limit) return;
      yield (key as DueKey)[3];
    }
  }

  /** Ids whose timer is at or before `now`, earliest first; at most `limit`. */
  dueTimers(now: number, limit: number): string[] {
    const ids: string[] = [];
    for (const key of this.#timers.getKeys({ end: [now, '\u{10ffff}'], limit })) ids.push((key as TimerKey)[1]);
    return ids;
  }

  /** Jobs ordered by id after `after`, optionally of one queue and state; at most `limit`, with a scan budget. */
  list(filter: { readonly queue?: string; readonly state?: TaskState }, limit: number, after?: string): { jobs: TaskJob[]; next?: string } {
    const jobs: TaskJob[] = [];
    let scanned = 0;
    let bytes = 0;
    let last: string | undefined;
    for (const { key, value } of this.#jobs.getRange(after === undefined ? {} : { start: after })) {
      if (key === after) continue;
      // A page holds about MAX_BATCH_BYTES of jobs (each stored as it travels), and one at least.
      if (jobs.length >= limit || scanned++ >= LIST_SCAN_BUDGET || (jobs.length > 0 && bytes + value.length > MAX_BATCH_BYTES)) return { jobs, next: last ?? key };
      last = key;
      const job = decodeJob(value);
      if (filter.queue !== undefined && job.queue !== filter.queue) continue;
      if (filter.state !== undefined && job.state !== filter.state) continue;
      jobs.push(job);
      bytes += value.length;
    }
    return { jobs };
  }

  /** Per queue and state, of the MAX_COUNTED_QUEUES queues holding the most jobs (the protocol's maxProperties). */
  counts(): TaskCounts {
    const queues = [...this.#counts].map(([queue, states]) => ({ queue, states, total: [...states.values()].reduce((sum, count) => sum + count, 0) }));
    const busiest = queues.filter(({ total }) => total > 0).sort((a, b) => b.total - a.total).slice(0, MAX_COUNTED_QUEUES);
    const counts: TaskCounts = Object.create(null) as TaskCounts;
    for (const { queue, states } of busiest) {
      const entry: Record<string, number> = Object.create(null) as Record<string, number>;
      for (const [state, count] of states) if (count > 0) entry[state] = count;
      counts[queue] = entry;
    }
    return counts;
  }

  get size(): number {
    let total = 0;
    for (const states of this.#counts.values()) for (const count of states.values()) total += count;
    return total;
  }

  close(): Promise<void> {
    return this.#env.close();
  }

  #index(job: TaskJob): void {
    if (job.state === 'queued') this.#due.put(dueKey(job), true);
    const at = timerOf(job);
    if (at !== undefined) this.#timers.put([at, job.id], true);
    this.#count(job, 1);
  }

  #unindex(job: TaskJob): void {
    if (job.state === 'queued') this.#due.remove(dueKey(job));
    const at = timerOf(job);
    if (at !== undefined) this.#timers.remove([at, job.id]);
    this.#count(job, -1);
  }

  #count(job: TaskJob, delta: number): void {
    let states = this.#counts.get(job.queue);
    if (states === undefined) this.#counts.set(job.queue, (states = new Map()));
    states.set(job.state, (states.get(job.state) ?? 0) + delta);
  }
}

/** Queues a count names at most (the protocol's maxProperties). */
const MAX_COUNTED_QUEUES = 200;
/** Entries looked at per list request, matching or not. */
const LIST_SCAN_BUDGET = 20_000;

function dueKey(job: TaskJob): DueKey {
  // Priority 9 first: the index orders ascending.
  return [job.queue, 9 - job.priority, job.run_at, job.id];
}

function decodeJob(bytes: Uint8Array): TaskJob {
  return decode(bytes) as TaskJob;
}
