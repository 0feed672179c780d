// One system under test in the task-queue benchmark: its servers running, and a producer process
// and a worker process connected to it, ready for rounds (rounds.ts).
import type { Child } from './child.js';

export interface PeerOptions {
  /** The worker's concurrency: jobs one worker process runs at once (and so has leased or prefetched). */
  readonly concurrency: number;
  /** The most producers a round uses (the producer process makes that many connections). */
  readonly maxProducers: number;
  /** Parent of the scratch directories holding the servers' data (a real disk). */
  readonly dataRoot: string;
  /** Redis's appendfsync (BullMQ's store, Celery's result backend). */
  readonly redisFsync: 'always' | 'everysec';
  /** Progress lines on stderr. */
  readonly progress: (text: string) => void;
  /** Correio's producers and worker: straight to the coordinator's direct endpoint (the default) or through the broker only. */
  readonly correioRoute: 'direct' | 'broker';
  /** When set, Correio's broker, proxy and servers run under `node --cpu-prof` and write their profiles here on exit. */
  readonly profileDir?: string;
}

export interface RunningPeer {
  /** The system as the table names it, with versions. */
  readonly name: string;
  /** How it runs, durability stated. */
  readonly configuration: string;
  readonly producer: Child;
  readonly worker: Child;
  /** The PIDs of the system's own processes (brokers, servers, stores): their CPU is metered per round. */
  readonly serverPids: readonly number[];
  /** After the rounds: a problem with what the system holds (a Correio job not succeeded), or undefined. */
  verify?(expectedJobs: number): Promise<string | undefined>;
  /** Stops the children and the servers by PID and removes their data. */
  stop(): Promise<void>;
}

export interface PeerDefinition {
  /** The name on the command line (--peers). */
  readonly id: 'correio' | 'celery' | 'bullmq';
  /** The table's name for it when it cannot be started. */
  readonly label: string;
  start(options: PeerOptions): Promise<RunningPeer>;
}

/** Milliseconds a child has to connect and say ready. */
export const READY_TIMEOUT_MS = 120_000;

/** Waits for both children's `ready`; the versions they report. */
export async function childrenReady(producer: Child, worker: Child): Promise<{ producer?: string; worker?: string }> {
  const [made, running] = await Promise.all([producer.next('ready', READY_TIMEOUT_MS), worker.next('ready', READY_TIMEOUT_MS)]);
  return { ...(made.version === undefined ? {} : { producer: made.version }), ...(running.version === undefined ? {} : { worker: running.version }) };
}
