// The task queue under failure (issue #18's soak): a broker, a proxy, a reference server, three
// chat servers (the coordinator runs the queue, every change on 2 servers before it is
// acknowledged) and four worker processes. While the jobs flow, workers are SIGKILLed (and
// restarted) or SIGSTOPped past their lease (and resumed) at random, and the coordinator itself
// is killed -9 and later restarted. At the end every acknowledged job is finished: each `count`
// job succeeded and left its side effect at least once, the dead letters are exactly the jobs
// designed to fail, and nothing acknowledged is missing. A schedule fires every second throughout:
// one job per tick, before and after the failover. CORREIO_TASK_SOAK_JOBS sets the number of jobs
// (default 10,000).
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TaskJob } from '@correio/protocol';
import { TaskClient } from '@correio/tasks';
import { seededRandom, workspaceRoot, type Child } from '@correio/testing';
import { eventually } from './helpers/chat.js';
import { clusterHealth, startClusterServer, startRefProcess } from './helpers/cluster.js';
import { fileScratch, spawnTs, startInfrastructure, type Infrastructure, type ServerProcess } from './helpers/processes.js';

const JOBS = Number(process.env['CORREIO_TASK_SOAK_JOBS'] ?? 10_000);
/** Every DOOMED_EVERY-th job always fails: after its 2 attempts it is a dead letter. */
const DOOMED_EVERY = 50;
const WORKERS = ['w1', 'w2', 'w3', 'w4'] as const;
const SERVER_IDS = ['k1', 'k2', 'k3'] as const;
const workerMain = join(workspaceRoot, 'apps', 'server', 'tests', 'programs', 'taskWorker.ts');

let infra: Infrastructure;
const servers = new Map<string, ServerProcess>();
const workers = new Map<string, Child>();
let client: TaskClient;
const scratch = fileScratch({ prefix: 'correio-task-chaos-', closeFirst: () => client?.close() });
const random = seededRandom(Number(process.env['CORREIO_TEST_SEED'] ?? 18));

function startServer(id: string): Promise<ServerProcess> {
  return startClusterServer(infra, id, join(scratch.dir, id), ['--task-replicas', '2']);
}

async function startWorker(id: string): Promise<void> {
  const child = spawnTs(`worker ${id}`, workerMain, ['--broker', infra.broker, '--id', `${id}-${Date.now()}`, '--effects', join(scratch.dir, `effects-${id}.log`), '--work-ms', '5']);
  workers.set(id, child);
  await child.waitForLine(/^worker ready /, 30_000);
}

async function coordinatorId(): Promise<string> {
  let found: string | undefined;
  await eventually(async () => {
    for (const server of servers.values()) {
      const health = await clusterHealth(server).catch(() => undefined);
      if (health?.tasks.coordinating) found = server.id;
    }
    return found !== undefined;
  }, 30_000, 'a server to coordinate the task queue');
  return found!;
}

/** Every job the queue holds, following `next`. */
async function everyJob(): Promise<TaskJob[]> {
  const jobs: TaskJob[] = [];
  let after: string | undefined;
  for (let page = 0; page < 1_000; page++) {
    const reply = await client.list({ limit: 1_000, ...(after === undefined ? {} : { after }) });
    jobs.push(...reply.jobs);
    after = reply.next;
    if (after === undefined) return jobs;
  }
  throw new Error('more than 1,000 pages');
}

beforeAll(async () => {
  infra = await startInfrastructure();
  await startRefProcess(infra, join(scratch.dir, 'ref'));
  for (const server of await Promise.all(SERVER_IDS.map(startServer))) servers.set(server.id, server);
  await eventually(async () => (await Promise.all([...servers.values()].map(clusterHealth))).every((view) => view.cluster.peers.length === 2), 20_000, 'every server to see the others live');
  client = new TaskClient({ broker: infra.broker, timeoutMs: 60_000 });
  await coordinatorId();
  await Promise.all(WORKERS.map(startWorker));
}, 120_000);

describe('the task queue under failure', () => {
  it(`finishes every acknowledged job of ${JOBS} while workers are killed and stopped and the coordinator is killed -9 and restarted`, async () => {
    const acknowledged = new Set<string>();
    const doomed = new Set<string>();
    let enqueued = 0;
    const produce = async (): Promise<void> => {
      // 20 producers at once, each enqueueing until the jobs run out.
      for (let step = 0; step < JOBS && enqueued < JOBS; step++) {
        const index = enqueued++;
        const fails = index % DOOMED_EVERY === DOOMED_EVERY - 1;
        const id = `soak-${index}`;
        await client.enqueue('soak', fails ? 'doomed' : 'count', { index }, { id, leaseMs: 1_500, maxAttempts: fails ? 2 : 10, backoffMs: 50, maxBackoffMs: 500 });
        acknowledged.add(id);
        if (fails) doomed.add(id);
      }
    };
    const producing = Promise.all(Array.from({ length: 20 }, produce));
    await client.schedule('soak-beat', '* * * * * *', 'soak', 'count', { args: { beat: true } });

    // Chaos while the jobs flow: a worker killed and restarted, or stopped past its lease and resumed.
    let chaos = true;
    const events: string[] = [];
    const chaosLoop = (async () => {
      for (let round = 0; chaos && round < 200; round++) {
        await new Promise((resolve) => setTimeout(resolve, 400 + random() * 400));
        if (!chaos) break;
        const id = WORKERS[Math.floor(random() * WORKERS.length)]!;
        const child = workers.get(id)!;
        if (random() < 0.5) {
          child.kill('SIGKILL');
          await child.exited;
          events.push(`kill ${id}`);
          await startWorker(id);
        } else {
          child.kill('SIGSTOP');
          events.push(`stop ${id}`);
          await new Promise((resolve) => setTimeout(resolve, 2_000));
          child.kill('SIGCONT');
        }
      }
    })();

    // The coordinator killed -9 once a third of the jobs are in, restarted a few seconds later.
    await eventually(() => acknowledged.size >= JOBS / 3, 120_000, 'a third of the jobs enqueued');
    const victim = await coordinatorId();
    const killedAt = Date.now();
    servers.get(victim)!.child.kill('SIGKILL');
    await servers.get(victim)!.child.exited;
    events.push(`kill -9 coordinator ${victim}`);
    servers.delete(victim);
    const successor = await coordinatorId();
    expect(successor).not.toBe(victim);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    servers.set(victim, await startServer(victim));
    events.push(`restarted ${victim}`);

    await producing;
    expect(acknowledged.size).toBe(JOBS);
    // A tick or two after the restart, the schedule is removed: its jobs finish with the rest.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await client.unschedule('soak-beat')).toBe(true);
    await eventually(async () => {
      const jobs = await everyJob();
      return jobs.filter((job) => job.queue === 'soak').every((job) => job.state === 'succeeded' || job.state === 'dead');
    }, 180_000, `all ${JOBS} jobs to finish`);
    chaos = false;
    await chaosLoop;

    const jobs = await everyJob();
    const byId = new Map(jobs.filter((job) => job.queue === 'soak' && job.schedule === undefined).map((job) => [job.id, job]));
    expect(byId.size).toBe(JOBS);
    // The schedule's jobs: one per tick (their ids say the tick), before and after the failover.
    const ticks = jobs.filter((job) => job.schedule === 'soak-beat').map((job) => Number(job.id.split(':').at(-1)));
    expect(new Set(ticks).size).toBe(ticks.length);
    expect(ticks.some((tick) => tick < killedAt)).toBe(true);
    expect(ticks.some((tick) => tick > killedAt + 1_000)).toBe(true);
    expect(jobs.filter((job) => job.schedule === 'soak-beat').every((job) => job.state === 'succeeded')).toBe(true);
    const missing = [...acknowledged].filter((id) => !byId.has(id));
    expect(missing).toEqual([]);
    const dead = [...byId.values()].filter((job) => job.state === 'dead').map((job) => job.id).sort();
    expect(dead).toEqual([...doomed].sort());
    const effects = new Set<string>();
    for (const id of WORKERS) {
      const file = join(scratch.dir, `effects-${id}.log`);
      if (!existsSync(file)) continue;
      for (const line of readFileSync(file, 'utf8').split('\n')) if (line) effects.add(line.split(' ')[0]!);
    }
    const withoutEffect = [...acknowledged].filter((id) => !doomed.has(id) && !effects.has(id));
    expect(withoutEffect).toEqual([]);
    expect(events.some((event) => event.startsWith('kill w') || event.startsWith('stop w'))).toBe(true);
    console.log(`task soak: ${JOBS} jobs, ${doomed.size} dead letters, ${ticks.length} schedule ticks, chaos: ${events.join(', ')}`);
  }, 400_000);
});
