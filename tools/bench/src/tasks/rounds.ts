// One round of the task-queue benchmark against a running system: the worker is told how many jobs
// to expect, the producer process enqueues them from N concurrent producers, and the round ends
// when the worker reports the last result stored. Throughput runs from the first enqueue call to
// that moment; each job's enqueue-to-start latency is its start in the worker − its enqueue call.
import { processCpuSeconds } from '../cpuTime.js';
import { percentile, sortSamples } from '../stats.js';
import type { RunningPeer } from './peer.js';

export interface RoundResult {
  readonly producers: number;
  readonly jobs: number;
  /** First enqueue call → last result stored. */
  readonly wallSeconds: number;
  readonly jobsPerSecond: number;
  /** Enqueues acknowledged per second: first call → last acknowledgement. */
  readonly enqueuedPerSecond: number;
  readonly p50Us: number;
  readonly p99Us: number;
  /** CPU ms per job over the round: the system's own processes, and the producer and worker processes. */
  readonly serverCpuMsPerJob: number;
  readonly clientCpuMsPerJob: number;
  /** Jobs the worker ran (a job run twice counts twice) and jobs that failed. */
  readonly runs: number;
  readonly succeeded: number;
  readonly failed: number;
}

/** A round's time limit: long enough for a slow machine, so that only a stuck round hits it. */
function roundTimeoutMs(jobs: number): number {
  return 60_000 + jobs * 50;
}

export async function runRound(peer: RunningPeer, jobs: number, producers: number): Promise<RoundResult> {
  const timeoutMs = roundTimeoutMs(jobs);
  peer.worker.send({ type: 'expect', jobs });
  await peer.worker.next('expecting', 10_000);
  const cpu = (pids: readonly number[]) => pids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0);
  const clientPids = [peer.producer.process.pid!, peer.worker.process.pid!];
  const [serverCpu, clientCpu] = [cpu(peer.serverPids), cpu(clientPids)];
  const completion = peer.worker.next('completed', timeoutMs);
  completion.catch(() => undefined); // awaited below, unless producing failed first
  peer.producer.send({ type: 'produce', jobs, producers });
  const produced = await peer.producer.next('produced', timeoutMs);
  if (produced.enqueued < jobs) throw new Error(`${peer.name}: ${produced.enqueued} of ${jobs} jobs enqueued: ${produced.errors.join('; ')}`);
  const completed = await completion;
  const perJobMs = (seconds: number) => (seconds * 1000) / jobs;
  const [serverCpuMsPerJob, clientCpuMsPerJob] = [perJobMs(cpu(peer.serverPids) - serverCpu), perJobMs(cpu(clientPids) - clientCpu)];
  const latencies = sortSamples([...completed.latenciesUs]);
  const wallSeconds = (completed.lastDoneUs - produced.firstCallUs) / 1e6;
  return {
    producers,
    jobs,
    wallSeconds,
    jobsPerSecond: jobs / wallSeconds,
    enqueuedPerSecond: jobs / ((produced.lastAckUs - produced.firstCallUs) / 1e6),
    p50Us: percentile(latencies, 50),
    p99Us: percentile(latencies, 99),
    serverCpuMsPerJob,
    clientCpuMsPerJob,
    runs: latencies.length,
    succeeded: completed.succeeded,
    failed: completed.failed,
  };
}
