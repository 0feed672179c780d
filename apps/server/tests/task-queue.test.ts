// The task queue (protocol revisions 1.6 and 1.7) over real sockets: a broker, a proxy, a reference server
// and two chat servers; the coordinator serves `tasks`, the other holds its copies. Producers and
// workers are @correio/tasks clients in this process: every semantic of the queue — results and
// waiting for them, idempotent enqueue, retries with backoff into the dead-letter queue and replay,
// failing for good, countdowns, priorities, cancellation (queued and running), progress, lost
// leases (a stalled worker), the live event stream, replication to the other server, and values
// that must come back exactly as they went (a `__proto__` key, extreme integers, binary).
import { beforeAll, describe, expect, it } from 'vitest';
import type { BodyOf } from '@correio/protocol';
import { job, PermanentJobError, TaskClient, TaskFailedError, TaskWorker, type JobContext, type JobHandler, type TaskJob } from '@correio/tasks';
import { action, createService, type ActionContext } from '@correio/service';
import { readMetric } from '@correio/testing';
import { Subscriber, RequestClient } from '@correio/transport';
import { encode as msgpack } from '@msgpack/msgpack';
import { ChatClient, eventually } from './helpers/chat.js';
import { clusterHealth, startClusterServer, startRefProcess } from './helpers/cluster.js';
import { fileScratch, startInfrastructure, type Infrastructure, type ServerProcess } from './helpers/processes.js';
import { join } from 'node:path';

let infra: Infrastructure;
const servers: ServerProcess[] = [];
let client: TaskClient;
const workers: TaskWorker[] = [];
const scratch = fileScratch({
  prefix: 'correio-task-queue-',
  closeFirst: async () => {
    await Promise.all(workers.map((worker) => worker.stop({ graceMs: 0 })));
    await client?.close();
  },
});

function worker(queues: string[], handlers: Record<string, JobHandler>, options: { concurrency?: number; id?: string } = {}): TaskWorker {
  const made = new TaskWorker({ broker: infra.broker, queues, handlers, pollMs: 2_000, ...options }).start();
  workers.push(made);
  return made;
}

async function stopWorker(made: TaskWorker): Promise<void> {
  workers.splice(workers.indexOf(made), 1);
  await made.stop({ graceMs: 1_000 });
}

/** Which server coordinates (serves `tasks`), by /health. */
async function coordinator(): Promise<ServerProcess> {
  let found: ServerProcess | undefined;
  await eventually(async () => {
    for (const server of servers) if ((await clusterHealth(server)).tasks?.coordinating) found = server;
    return found !== undefined;
  }, 20_000, 'a server to coordinate the task queue');
  return found as unknown as ServerProcess;
}

beforeAll(async () => {
  infra = await startInfrastructure();
  await startRefProcess(infra, join(scratch.dir, 'ref'));
  servers.push(...(await Promise.all(['q1', 'q2'].map((id) => startClusterServer(infra, id, join(scratch.dir, id), ['--task-rate-limit', 'throttled=5/s'])))));
  client = new TaskClient({ broker: infra.broker, timeoutMs: 20_000 });
  await coordinator();
}, 120_000);


describe('the task queue', () => {
  it('runs a job and hands its result to whoever waits; an id enqueued again is the same job', async () => {
    worker(['basic'], { add: ([a, b]: [number, number]) => a + b });
    const { job, created } = await client.enqueue('basic', 'add', [2, 3], { id: 'sum-1' });
    expect(created).toBe(true);
    // Queued, or already leased to the worker that was polling (a hand-off in the same transaction).
    expect(job.id).toBe('sum-1');
    expect([job.state, job.attempt]).toEqual(job.state === 'queued' ? ['queued', 0] : ['active', 1]);
    expect(await client.result('sum-1', { timeoutMs: 15_000 })).toBe(5);
    const again = await client.enqueue('basic', 'add', [40, 2], { id: 'sum-1' });
    expect(again.created).toBe(false);
    expect(again.job).toMatchObject({ id: 'sum-1', state: 'succeeded', result: 5, attempt: 1 });
    await expect(client.get('never-enqueued')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('retries a failing job with a growing backoff, buries it after its last attempt, and replays the dead letter', async () => {
    const starts: number[] = [];
    let healed = false;
    worker(['flaky'], {
      flaky: () => {
        starts.push(Date.now());
        if (!healed) throw new RangeError('not yet');
        return 'fine';
      },
    });
    const { job } = await client.enqueue('flaky', 'flaky', undefined, { maxAttempts: 3, backoffMs: 300 });
    const dead = await client.wait(job.id, { timeoutMs: 20_000 });
    expect(dead).toMatchObject({ state: 'dead', attempt: 3, error: { type: 'RangeError', message: 'not yet' } });
    expect(starts).toHaveLength(3);
    // 300 ms then 600 ms, each plus up to 25 %.
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(300);
    expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(600);
    await expect(client.result(job.id, { timeoutMs: 1_000 })).rejects.toBeInstanceOf(TaskFailedError);
    const letters = await client.list({ queue: 'flaky', state: 'dead' });
    expect(letters.jobs.map((letter) => letter.id)).toEqual([job.id]);
    expect(letters.counts['flaky']).toEqual({ dead: 1 });
    healed = true;
    const replayed = await client.retry(job.id);
    expect(replayed).toMatchObject({ state: 'queued', attempt: 0 });
    expect(await client.result(job.id, { timeoutMs: 15_000 })).toBe('fine');
    await expect(client.retry(job.id)).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('fails a job for good on a PermanentJobError or an unknown task, whatever attempts remain', async () => {
    worker(['strict'], {
      validate: () => {
        throw new PermanentJobError('the address is malformed');
      },
    });
    const bad = await client.enqueue('strict', 'validate', { to: 'nobody' }, { maxAttempts: 5 });
    expect(await client.wait(bad.job.id, { timeoutMs: 15_000 })).toMatchObject({ state: 'dead', attempt: 1, error: { type: 'PermanentJobError' } });
    const unknown = await client.enqueue('strict', 'no.such.task', null, { maxAttempts: 5 });
    expect(await client.wait(unknown.job.id, { timeoutMs: 15_000 })).toMatchObject({ state: 'dead', attempt: 1, error: { type: 'UnknownTask' } });
  });

  it('holds a countdown job until it is due, and leases higher priorities first', async () => {
    const { job } = await client.enqueue('later', 'tick', null, { delayMs: 1_500 });
    expect(job.state).toBe('scheduled');
    const order: string[] = [];
    for (const [id, priority] of [['low', 0], ['mid', 5], ['high', 9]] as const) await client.enqueue('ordered', 'note', id, { id: `prio-${id}`, priority });
    const ran: number[] = [];
    worker(['later'], { tick: () => ran.push(Date.now()) });
    worker(['ordered'], { note: (name: string) => order.push(name) }, { concurrency: 1 });
    const done = await client.wait(job.id, { timeoutMs: 15_000 });
    expect(done.state).toBe('succeeded');
    expect(ran[0]! - job.created_at).toBeGreaterThanOrEqual(1_400);
    await eventually(() => order.length === 3, 15_000, 'the three priorities to run');
    expect(order).toEqual(['high', 'mid', 'low']);
  });

  it('cancels a queued job at once, and a running one through its signal', async () => {
    const queued = await client.enqueue('cancel-q', 'never', null, { delayMs: 60_000 });
    expect((await client.cancel(queued.job.id)).state).toBe('cancelled');
    let aborted = false;
    worker(['cancel'], {
      long: (_args: unknown, ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('stopped'));
          });
        }),
    });
    const running = await client.enqueue('cancel', 'long', null, { leaseMs: 1_500 });
    await eventually(async () => (await client.get(running.job.id)).state === 'active', 15_000, 'the job to start');
    expect((await client.cancel(running.job.id)).cancel_requested).toBe(true);
    const finished = await client.wait(running.job.id, { timeoutMs: 15_000 });
    expect(finished.state).toBe('cancelled');
    expect(aborted).toBe(true);
  });

  it('shows progress, and runs a job again elsewhere when its worker stops heartbeating (the stale outcome is refused)', async () => {
    const { job } = await client.enqueue('stall', 'work', { n: 1 }, { leaseMs: 1_000 });
    // A worker that leases and then hangs: no heartbeat.
    const [leased] = (await client.call('tasks.lease.request', { worker: 'stalled-worker', queues: ['stall'], max: 1 })).jobs;
    expect(leased).toMatchObject({ id: job.id, state: 'active', attempt: 1, worker: 'stalled-worker' });
    const seen: unknown[] = [];
    worker(['stall'], {
      work: async (_args: unknown, ctx) => {
        ctx.progress({ step: 1, of: 2 });
        await new Promise((resolve) => setTimeout(resolve, 800));
        seen.push((await client.get(ctx.id)).progress);
        return ctx.attempt;
      },
    });
    const done = await client.wait(job.id, { timeoutMs: 15_000 });
    expect(done).toMatchObject({ state: 'succeeded', attempt: 2, result: 2 });
    expect(seen).toEqual([{ step: 1, of: 2 }]);
    const stale: BodyOf<'tasks.settle.request'> = { worker: 'stalled-worker', id: job.id, attempt: 1, outcome: 'succeeded', result: 'late' };
    await expect(client.call('tasks.settle.request', stale)).rejects.toMatchObject({ code: 'CONFLICT' });
    const boss = await coordinator();
    expect(await readMetric(boss.http, 'correio_tasks_outcomes_total', { queue: 'stall', outcome: 'lease_expired' })).toBe(1);
  });

  it('announces every state change on tasks/<queue>/ and copies every job to the other server', async () => {
    const subscriber = new Subscriber({});
    subscriber.subscribe('tasks/events/');
    subscriber.connect(infra.proxy.sub);
    const states: string[] = [];
    const reading = (async () => {
      for await (const publication of subscriber) {
        const event = publication.envelope.body as BodyOf<'tasks.event'>;
        if (event.id === 'evented') states.push(event.state);
        if (event.state === 'succeeded') return;
      }
    })();
    // ZeroMQ subscriptions take a moment to reach the proxy: a probe job until one is heard.
    await new Promise((resolve) => setTimeout(resolve, 500));
    worker(['events'], { echo: (value: unknown) => value });
    await client.enqueue('events', 'echo', 'hi', { id: 'evented' });
    await client.result('evented', { timeoutMs: 15_000 });
    await Promise.race([reading, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    await subscriber.close();
    expect(states).toEqual(['queued', 'active', 'succeeded']);

    const boss = await coordinator();
    const other = servers.find((server) => server !== boss)!;
    const direct = new RequestClient({ endpoint: infra.broker, from: 'copy-probe' });
    try {
      const copy = await direct.request(`srv.${other.id}`, 'tasks.list.request', { limit: 1_000 });
      const held = (copy.body as BodyOf<'tasks.list.reply'>).jobs.find((job: TaskJob) => job.id === 'evented');
      expect(held).toMatchObject({ state: 'succeeded', result: 'hi' });
      // Client requests go to the coordinator through `tasks`, not to a server's own service.
      await expect(direct.request(`srv.${other.id}`, 'tasks.enqueue.request', { queue: 'x', task: 'y' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    } finally {
      await direct.close();
    }
  });

  it('runs workflows: a chain passes each result on, a chord collects a group\'s results, a failure cancels what waits for it', async () => {
    worker(['flow'], {
      square: (n: number) => n * n,
      add: ([a, b]: [number, number]) => a + b,
      double: (n: number) => 2 * n,
      sum: (values: number[]) => values.reduce((total, value) => total + value, 0),
      boom: () => {
        throw new PermanentJobError('boom');
      },
    });
    const chain = await client.chain([{ queue: 'flow', task: 'add', args: [2, 3] }, { queue: 'flow', task: 'square' }, { queue: 'flow', task: 'double' }], { id: 'chain-1' });
    expect(chain.ids).toEqual(['chain-1:s0', 'chain-1:s1', 'chain-1:s2']);
    expect((await client.get('chain-1:s2')).state).toMatch(/waiting|queued|active|succeeded/);
    expect(await client.result(chain.ids[2]!, { timeoutMs: 15_000 })).toBe(50);
    expect((await client.chain([{ queue: 'flow', task: 'add', args: [1, 1] }], { id: 'chain-1' })).created).toBe(false);

    const chord = await client.chord([1, 2, 3, 4].map((n) => ({ queue: 'flow', task: 'square', args: n })), { queue: 'flow', task: 'sum' });
    expect(await client.result(chord.ids.at(-1)!, { timeoutMs: 15_000 })).toBe(30);
    expect((await client.get(chord.ids.at(-1)!)).args).toEqual([1, 4, 9, 16]);

    const broken = await client.chain([{ queue: 'flow', task: 'boom' }, { queue: 'flow', task: 'double' }, { queue: 'flow', task: 'double' }]);
    const last = await client.wait(broken.ids[2]!, { timeoutMs: 15_000 });
    expect(last).toMatchObject({ state: 'cancelled', error: { type: 'parent_failed' } });
    expect((await client.get(broken.ids[0]!)).state).toBe('dead');
    await expect(client.flow([{ ref: 'a', queue: 'flow', task: 'sum', after: ['b'] }, { ref: 'b', queue: 'flow', task: 'sum' }])).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('fires a periodic schedule once per tick (job id schedule:<name>:<tick>), and stops when it is removed', async () => {
    const ticks: number[] = [];
    worker(['cron'], { beat: (_args: unknown, ctx) => ticks.push(Number(ctx.id.split(':').at(-1))) });
    await expect(client.schedule('bad', 'not a cron at all', 'cron', 'beat')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    const schedule = await client.schedule('every-second', '* * * * * *', 'cron', 'beat', { args: { hello: 'world' } });
    expect(schedule).toMatchObject({ name: 'every-second', version: 1 });
    expect(schedule.next_tick! % 1_000).toBe(0);
    await eventually(() => ticks.length >= 3, 15_000, 'three ticks');
    expect(await client.unschedule('every-second')).toBe(true);
    expect(await client.schedules()).toEqual([]);
    const fired = [...ticks].sort((a, b) => a - b);
    // One job per tick: consecutive seconds, none twice.
    for (let index = 1; index < fired.length; index++) expect(fired[index]! - fired[index - 1]!).toBe(1_000);
    const settledCount = ticks.length;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(ticks.length).toBeLessThanOrEqual(settledCount + 1);
    const job = await client.get(`schedule:every-second:${fired[0]}`);
    expect(job).toMatchObject({ schedule: 'every-second', args: { hello: 'world' }, state: 'succeeded' });
  });

  it('limits a queue\'s leases across workers (--task-rate-limit) and a task\'s rate in one worker (rateLimits)', async () => {
    const starts: number[] = [];
    worker(['throttled'], { tick: () => void starts.push(Date.now()) }, { concurrency: 12 });
    const first = await Promise.all(Array.from({ length: 12 }, () => client.enqueue('throttled', 'tick')));
    await Promise.all(first.map(({ job }) => client.wait(job.id, { timeoutMs: 20_000 })));
    starts.sort((a, b) => a - b);
    // A burst of 5, then one every 200 ms: the 12th no sooner than 1.4 s after the first (less a tick's slack).
    for (let index = 5; index < starts.length; index++) expect(starts[index]! - starts[0]!).toBeGreaterThanOrEqual((index - 4) * 200 - 60);

    const paced: number[] = [];
    const limited = new TaskWorker({ broker: infra.broker, queues: ['paced'], concurrency: 8, rateLimits: { pace: '4/s' }, pollMs: 2_000, handlers: { pace: () => void paced.push(Date.now()) } }).start();
    workers.push(limited);
    const second = await Promise.all(Array.from({ length: 8 }, () => client.enqueue('paced', 'pace')));
    await Promise.all(second.map(({ job }) => client.wait(job.id, { timeoutMs: 20_000 })));
    paced.sort((a, b) => a - b);
    expect(paced[7]! - paced[0]!).toBeGreaterThanOrEqual(4 * 250 - 60);
  });

  it('runs @job methods of a service class next to its actions (@correio/service)', async () => {
    class Mailer {
      readonly sent: string[] = [];
      @action()
      ping(_ctx: ActionContext): string {
        return 'pong';
      }
      @job('mail.send', { queue: 'mail' })
      send(args: { to: string }, ctx: JobContext): string {
        this.sent.push(args.to);
        return `sent to ${args.to} (attempt ${ctx.attempt})`;
      }
    }
    const mailer = new Mailer();
    const service = createService({ name: 'mailer', handlers: mailer, broker: infra.broker, proxy: infra.proxy, jobs: { pollMs: 1_000 } });
    await service.start();
    try {
      const { job: queued } = await client.enqueue('mail', 'mail.send', { to: 'ana@example.com' });
      expect(await client.result(queued.id, { timeoutMs: 15_000 })).toBe('sent to ana@example.com (attempt 1)');
      expect(mailer.sent).toEqual(['ana@example.com']);
      expect(await service.call('mailer.ping')).toBe('pong');
    } finally {
      await service.stop();
    }
  });

  it('settles an attempt and leases the next jobs in one request (revision 1.7), never past a reply\'s bytes', async () => {
    const ids = ['refill-1', 'refill-2', 'refill-3', 'refill-4'];
    for (const [index, id] of ids.entries()) await client.enqueue('refill', 'echo', index, { id });
    const lease = (max: number) => client.call('tasks.lease.request', { worker: 'raw-worker', queues: ['refill'], max });
    const [first] = (await lease(1)).jobs;
    expect(first).toMatchObject({ id: 'refill-1', state: 'active', worker: 'raw-worker' });
    const settled = await client.call('tasks.settle.request', { worker: 'raw-worker', id: first!.id, attempt: first!.attempt, outcome: 'succeeded', result: 0, lease: { queues: ['refill'], max: 2 } });
    expect(settled.job).toMatchObject({ id: 'refill-1', state: 'succeeded', result: 0 });
    expect(settled.jobs?.map((job) => [job.id, job.state, job.worker])).toEqual([
      ['refill-2', 'active', 'raw-worker'],
      ['refill-3', 'active', 'raw-worker'],
    ]);
    // A settle refused (this attempt is settled already) leases nothing: refill-4 stays queued.
    await expect(client.call('tasks.settle.request', { worker: 'raw-worker', id: first!.id, attempt: first!.attempt, outcome: 'succeeded', lease: { queues: ['refill'] } })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await client.get('refill-4')).state).toBe('queued');
    // Without a lease the reply is as in 1.6; with one and nothing due, the list is empty.
    const second = await client.call('tasks.settle.request', { worker: 'raw-worker', id: 'refill-2', attempt: 1, outcome: 'succeeded' });
    expect(second.jobs).toBeUndefined();
    const [fourth] = (await lease(1)).jobs;
    expect((await client.call('tasks.settle.request', { worker: 'raw-worker', id: fourth!.id, attempt: 1, outcome: 'succeeded', lease: { queues: ['refill'], max: 100 } })).jobs).toEqual([]);
    // A settled job near the byte bound leaves no room: the large job due next stays queued for a plain lease.
    const strings = (count: number, char: string) => Array.from({ length: count }, () => char.repeat(60_000));
    await client.enqueue('refill', 'echo', strings(5, 'y'), { id: 'refill-big' });
    const big = await client.call('tasks.settle.request', { worker: 'raw-worker', id: 'refill-3', attempt: 1, outcome: 'succeeded', result: strings(13, 'z'), lease: { queues: ['refill'] } });
    expect([big.job.state, (big.job.result as string[]).length, big.jobs]).toEqual(['succeeded', 13, []]);
    const [bigJob] = (await lease(1)).jobs;
    expect(bigJob).toMatchObject({ id: 'refill-big', state: 'active' });
    // The TypeScript worker refills its slot this way: one lease poll, then every job through a settle.
    await client.call('tasks.settle.request', { worker: 'raw-worker', id: 'refill-big', attempt: 1, outcome: 'succeeded' });
    const batch = await Promise.all(Array.from({ length: 60 }, (_, index) => client.enqueue('refill-worker', 'echo', index)));
    const boss = await coordinator();
    const leasePolls = () => readMetric(boss.http, 'correio_service_calls_total', { action: 'tasks.lease.request' });
    const pollsBefore = await leasePolls();
    const refilling = worker(['refill-worker'], { echo: (value: number) => value }, { concurrency: 1 });
    expect(await Promise.all(batch.map(({ job }) => client.result(job.id, { timeoutMs: 15_000 })))).toEqual(batch.map((_, index) => index));
    await eventually(() => refilling.stats.succeeded === 60, 5_000, 'the worker to count its settles');
    expect(refilling.stats).toMatchObject({ leased: 60, lost: 0 });
    // 60 jobs one at a time would be 60 polls; the other tests' idle workers poll every 2 s meanwhile.
    expect(await leasePolls() - pollsBefore).toBeLessThan(30);
    await stopWorker(refilling);
  });

  it('serves `tasks` on the coordinator\'s direct endpoint (revision 1.9): producers and workers skip the broker; the other server refuses it there', async () => {
    const boss = await coordinator();
    const other = servers.find((server) => server !== boss)!;
    const [bossHealth, otherHealth] = await Promise.all([clusterHealth(boss), clusterHealth(other)]);
    const endpoint = bossHealth.peerLink.endpoint!;
    expect(endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    // The route, as any client asks it: through the broker, so the coordinator answers.
    expect(await client.call('tasks.route.request', {})).toEqual({ coordinator: boss.id, endpoint });
    const producer = new TaskClient({ broker: infra.broker, timeoutMs: 20_000 });
    try {
      await eventually(async () => {
        await producer.list({ queue: 'direct', limit: 1 });
        return (producer.route?.direct ?? 0) > 0;
      }, 10_000, 'the producer to reach the coordinator directly');
      const served = (await clusterHealth(boss)).peerLink.served;
      const doubler = worker(['direct'], { double: (n: number) => 2 * n }, { concurrency: 4 });
      const jobs = await Promise.all(Array.from({ length: 30 }, (_, index) => producer.enqueue('direct', 'double', index)));
      expect(await Promise.all(jobs.map(({ job }) => producer.result(job.id, { timeoutMs: 15_000 })))).toEqual(jobs.map((_, index) => 2 * index));
      expect(producer.route).toMatchObject({ server: boss.id, endpoint, misdirected: 0, overflowed: 0 });
      expect(producer.route!.direct).toBeGreaterThanOrEqual(61); // 30 enqueues and 30 results, after the first list
      await eventually(() => (doubler.route?.direct ?? 0) > 0, 10_000, 'the worker to settle on the coordinator directly');
      expect((await clusterHealth(boss)).peerLink.served - served).toBeGreaterThanOrEqual(60);
      await stopWorker(doubler);
    } finally {
      await producer.close();
    }
    // On the endpoint itself: the same checks as through the broker, typed errors, still serving.
    const direct = new ChatClient(endpoint, 'hostile-direct');
    const bytes = (type: string, body: unknown, overrides: Record<string, unknown> = {}): Uint8Array =>
      msgpack({ v: 1, type, id: `raw${Math.random().toString(36).slice(2, 12)}`, from: 'hostile-direct', lc: 1, ts: Date.now(), body, ...overrides });
    try {
      const cases: [string, string, Uint8Array, string][] = [
        ['a __proto__ key', 'tasks', bytes('tasks.enqueue.request', JSON.parse('{"queue":"hostile","task":"t","args":{"__proto__":{"polluted":true}}}')), 'DECODE'],
        ['a body on tasks.route', 'tasks', bytes('tasks.route.request', { where: 'x' }), 'VALIDATION'],
        ['an unknown version', 'tasks', bytes('tasks.route.request', {}, { v: 9 }), 'UNSUPPORTED_VERSION'],
        ['garbage', 'tasks', Uint8Array.of(0xc1, 0xff, 0x00), 'DECODE'],
        ['a malformed copy', 'tasks', bytes('tasks.copy.request', { jobs: [{ id: 'x' }] }), 'VALIDATION'],
        ['a copy, which only srv.<id> takes', 'tasks', bytes('tasks.copy.request', { jobs: [] }), 'BAD_REQUEST'],
        ['a service the endpoint does not serve', 'config', bytes('tasks.route.request', {}), 'UNKNOWN_SERVICE'],
      ];
      for (const [what, service, frame, code] of cases) {
        const reply = await direct.raw(service, frame);
        expect({ what, type: reply.type, code: (reply.body as { code?: string }).code }).toEqual({ what, type: 'error', code });
      }
      expect((await direct.raw('tasks', bytes('tasks.route.request', {}))).body).toEqual({ coordinator: boss.id, endpoint });
    } finally {
      await direct.close();
    }
    // The server that does not coordinate serves its srv.<id> there, not `tasks`.
    const elsewhere = new ChatClient(otherHealth.peerLink.endpoint!, 'misdirected');
    try {
      expect(((await elsewhere.raw('tasks', bytes('tasks.route.request', {}))).body as { code: string }).code).toBe('UNKNOWN_SERVICE');
    } finally {
      await elsewhere.close();
    }
  });

  it('refuses hostile frames with typed errors and keeps serving; extreme values come back exactly', async () => {
    const raw = new ChatClient(infra.broker, 'hostile-peer');
    const envelope = (body: unknown, overrides: Record<string, unknown> = {}): Uint8Array =>
      msgpack({ v: 1, type: 'tasks.enqueue.request', id: `raw${Math.random().toString(36).slice(2, 12)}`, from: 'hostile-peer', lc: 1, ts: Date.now(), body, ...overrides });
    try {
      const cases: [string, Uint8Array, string][] = [
        ['a __proto__ key in the arguments', envelope(JSON.parse('{"queue":"hostile","task":"t","args":{"__proto__":{"polluted":true}}}')), 'DECODE'],
        ['a float in the arguments', envelope({ queue: 'hostile', task: 't', args: 0.5 }), 'DECODE'],
        ['a wrong type', envelope({ queue: 'hostile', task: 7 }), 'VALIDATION'],
        ['an unknown field', envelope({ queue: 'hostile', task: 't', surprise: 1 }), 'VALIDATION'],
        ['a priority out of range', envelope({ queue: 'hostile', task: 't', priority: 10 }), 'VALIDATION'],
        ['a delay beyond 30 days', envelope({ queue: 'hostile', task: 't', delay_ms: Number.MAX_SAFE_INTEGER }), 'VALIDATION'],
        ['an unknown version', envelope({ queue: 'hostile', task: 't' }, { v: 9 }), 'UNSUPPORTED_VERSION'],
        ['garbage', Uint8Array.of(0xc1, 0xff, 0x00), 'DECODE'],
      ];
      for (const [what, bytes, code] of cases) {
        const reply = await raw.raw('tasks', bytes);
        expect({ what, type: reply.type, code: (reply.body as { code?: string }).code }).toEqual({ what, type: 'error', code });
      }
      // A frame over the 1 MiB limit gets no reply: the broker drops the connection that sent it.
      await expect(raw.raw('tasks', envelope({ queue: 'hostile', task: 't', args: 'x'.repeat(2 * 1024 * 1024) }))).rejects.toMatchObject({ code: 'TIMEOUT' });
      expect((await client.list({ queue: 'hostile' })).jobs).toEqual([]);
    } finally {
      await raw.close();
    }
    // Extreme values a well-formed job may carry come back exactly.
    const args = { big: [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER], bytes: Uint8Array.of(0, 255, 7), text: 'é'.repeat(1_000), nothing: null };
    let deep: unknown = 'bottom';
    for (let depth = 0; depth < 20; depth++) deep = [deep];
    worker(['hostile'], { mirror: (value: unknown) => value });
    const { job } = await client.enqueue('hostile', 'mirror', { ...args, deep }, { id: 'x'.repeat(128), priority: 9, maxAttempts: 1000, resultTtlMs: 2_592_000_000 });
    const done = await client.wait(job.id, { timeoutMs: 15_000 });
    expect(done.state).toBe('succeeded');
    expect(done.result).toEqual({ ...args, deep });
    // Arguments or a result that would not fit inside a lease or a copy never brick the queue: the
    // enqueue is refused, or the job fails saying why, and the next job of the queue runs.
    const nestedIn = (levels: number): unknown => {
      let nested: unknown = 'bottom';
      for (let depth = 0; depth < levels; depth++) nested = [nested];
      return nested;
    };
    // 29 lists deep is a valid request, but three levels deeper (in a lease reply) past the codec's 32.
    await expect(client.enqueue('hostile', 'mirror', nestedIn(29))).rejects.toMatchObject({ code: 'TOO_LARGE' });
    const deepest = await client.enqueue('hostile', 'mirror', nestedIn(28));
    expect((await client.wait(deepest.job.id, { timeoutMs: 15_000 })).result).toEqual(nestedIn(28));
    worker(['bulky'], { bulk: () => Array.from({ length: 16 }, () => 'x'.repeat(60_000)), small: () => 'ok' });
    const bulky = await client.enqueue('bulky', 'bulk');
    expect(await client.wait(bulky.job.id, { timeoutMs: 15_000 })).toMatchObject({ state: 'dead', error: { type: 'InvalidResult' } });
    const after = await client.enqueue('bulky', 'small');
    expect(await client.result(after.job.id, { timeoutMs: 15_000 })).toBe('ok');
    const { job: stillFine } = await client.enqueue('hostile', 'mirror', 'still serving');
    expect(await client.result(stillFine.id, { timeoutMs: 15_000 })).toBe('still serving');
    // A worker whose handler returns what the protocol cannot carry fails the job, saying why.
    worker(['floaty'], { half: () => 0.5 });
    const floaty = await client.enqueue('floaty', 'half');
    expect(await client.wait(floaty.job.id, { timeoutMs: 15_000 })).toMatchObject({ state: 'dead', error: { type: 'InvalidResult' } });
    await Promise.all([...workers].map(stopWorker));
  });
});
