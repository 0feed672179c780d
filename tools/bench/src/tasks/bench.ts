// The task-queue benchmark's run: each system in turn (its servers started, a warm-up round, one
// round per producer count, checked, stopped) so that only one system uses the machine at a time.
// A system that cannot be started is reported as such and the others still run.
import { bullmq } from './bullmq.js';
import { celery } from './celery.js';
import { correio } from './correio.js';
import type { PeerDefinition, PeerOptions, RunningPeer } from './peer.js';
import type { PeerOutcome } from './report.js';
import { runRound, type RoundResult } from './rounds.js';

export const PEERS: readonly PeerDefinition[] = [correio, celery, bullmq];

export interface TaskBenchOptions extends Omit<PeerOptions, 'maxProducers'> {
  readonly peers: readonly PeerDefinition['id'][];
  readonly jobs: number;
  readonly producers: readonly number[];
  readonly warmup: number;
}

export async function runPeer(definition: PeerDefinition, options: TaskBenchOptions): Promise<PeerOutcome> {
  const maxProducers = Math.max(...options.producers);
  let peer: RunningPeer;
  try {
    peer = await definition.start({ ...options, maxProducers });
  } catch (error) {
    const problem = error instanceof Error ? error.message : String(error);
    options.progress(`${definition.label} could not be started; going on without it:\n${problem}`);
    return { name: definition.label, rounds: [], problem };
  }
  const rounds: RoundResult[] = [];
  let problem: string | undefined;
  try {
    // Every producer connection is made, and the code on both sides is warm, before measuring.
    if (options.warmup > 0) {
      options.progress(`${peer.name}: warm-up, ${options.warmup} jobs from ${maxProducers} producers…`);
      await runRound(peer, options.warmup, Math.min(maxProducers, options.warmup));
    }
    for (const producers of options.producers) {
      options.progress(`${peer.name}: ${options.jobs} jobs from ${producers} producer(s)…`);
      const round = await runRound(peer, options.jobs, producers);
      rounds.push(round);
      options.progress(`${peer.name}: ${Math.round(round.jobsPerSecond)} jobs/s, p50 ${(round.p50Us / 1000).toFixed(2)} ms, p99 ${(round.p99Us / 1000).toFixed(2)} ms`);
    }
    const failed = rounds.reduce((sum, round) => sum + round.failed, 0);
    if (failed > 0) problem = `${failed} jobs failed`;
    problem ??= await peer.verify?.(options.warmup + options.jobs * options.producers.length);
  } catch (error) {
    problem = error instanceof Error ? error.message : String(error);
    options.progress(`${peer.name}: the run stopped: ${problem}`);
  } finally {
    options.progress(`${peer.name}: stopping…`);
    await peer.stop();
  }
  return { name: peer.name, ...(peer.configuration ? { configuration: peer.configuration } : {}), rounds, ...(problem === undefined ? {} : { problem }) };
}

export async function runTaskBench(options: TaskBenchOptions): Promise<PeerOutcome[]> {
  const outcomes: PeerOutcome[] = [];
  for (const definition of PEERS.filter((peer) => options.peers.includes(peer.id))) outcomes.push(await runPeer(definition, options));
  return outcomes;
}
