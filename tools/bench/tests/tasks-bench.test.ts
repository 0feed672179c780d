// bench:tasks's Correio part over real processes (broker, proxy, ref, 3 chat servers, a producer
// and a worker process), at a tiny job count: every job of every round runs once and succeeds, the
// coordinator holds them all as succeeded, and the table prints a row per round. Not a timing
// check. And a system that cannot be started is reported as not run while the others go on.
import { describe, expect, it } from 'vitest';
import { scratchDir } from '@correio/testing';
import { runPeer, runTaskBench } from '../src/tasks/bench.js';
import { formatReport } from '../src/tasks/report.js';

const REPORT_OPTIONS = { jobs: 50, warmup: 10, concurrency: 8 };

describe('bench:tasks', () => {
  it('runs 50 no-op jobs through Correio from 1 and from 10 producers, all completed, and prints the table', async () => {
    const scratch = scratchDir('correio-bench-tasks-');
    const progress: string[] = [];
    try {
      const outcomes = await runTaskBench({
        peers: ['correio'],
        jobs: 50,
        producers: [1, 10],
        warmup: 10,
        concurrency: 8,
        redisFsync: 'always',
        correioRoute: 'direct',
        dataRoot: scratch.dir,
        progress: (text) => progress.push(text),
      });
      expect(outcomes).toHaveLength(1);
      const [outcome] = outcomes;
      // No problem: no round failed, and the coordinator holds the 10 + 2 × 50 jobs, each succeeded.
      expect(outcome!.problem, progress.join('\n')).toBeUndefined();
      expect(outcome!.configuration).toMatch(/--task-replicas 2/);
      expect(outcome!.configuration).toMatch(/straight to the coordinator's direct endpoint/);
      expect(outcome!.rounds.map(({ producers, jobs, runs, succeeded, failed }) => ({ producers, jobs, runs, succeeded, failed }))).toEqual([
        { producers: 1, jobs: 50, runs: 50, succeeded: 50, failed: 0 },
        { producers: 10, jobs: 50, runs: 50, succeeded: 50, failed: 0 },
      ]);
      for (const round of outcome!.rounds) {
        expect(round.jobsPerSecond).toBeGreaterThan(0);
        expect(round.p99Us).toBeGreaterThanOrEqual(round.p50Us);
        expect(round.p50Us).toBeGreaterThan(0); // a job starts after its enqueue call
        expect(round.serverCpuMsPerJob).toBeGreaterThan(0);
      }
      const table = formatReport(outcomes, REPORT_OPTIONS);
      expect(table).toContain('| Producers | System | Jobs | Wall s (first enqueue → last result stored) | Jobs/s end to end | Enqueues acknowledged/s | Enqueue → start p50 | p99 | CPU ms/job: servers | CPU ms/job: producer + worker | Failed |');
      expect(table.filter((line) => /^\| (1|10) \| Correio \(this checkout\) \| 50 \| [\d.]+ \| [\d,]+ \| [\d,]+ \| [\d.]+ (ms|µs) \| [\d.]+ (ms|µs) \| [\d.]+ \| [\d.]+ \| 0 \|$/.test(line))).toHaveLength(2);
    } finally {
      scratch.remove();
    }
  }, 60_000);

  it('reports a system that cannot be started as not run, and goes on', async () => {
    const progress: string[] = [];
    const outcome = await runPeer(
      { id: 'celery', label: 'Celery + RabbitMQ', start: () => Promise.reject(new Error('no rabbitmq-server here')) },
      { peers: ['celery'], jobs: 50, producers: [1], warmup: 0, concurrency: 8, redisFsync: 'always', correioRoute: 'direct', dataRoot: '/nonexistent', progress: (text) => progress.push(text) },
    );
    expect(outcome).toEqual({ name: 'Celery + RabbitMQ', rounds: [], problem: 'no rabbitmq-server here' });
    expect(progress.join('\n')).toMatch(/Celery \+ RabbitMQ could not be started; going on without it/);
    const table = formatReport([outcome], REPORT_OPTIONS);
    expect(table).toContain('- **Celery + RabbitMQ: NOT RUN, could not be started: no rabbitmq-server here**');
    expect(table).toContain('| – | Celery + RabbitMQ | – | – | not run | – | – | – | – | – | – |');
  });
});
