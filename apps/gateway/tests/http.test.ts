// The chat API over HTTP against a running cluster: broker, proxy, one chat server and the gateway
// as child processes; every request a real HTTP request. The task queue routes too, with a
// TaskWorker of @correio/tasks in this process running the jobs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentJobError, TaskWorker } from '@correio/tasks';
import { CLUSTER_START_MS, http, startCluster, startGateway, type Cluster, type GatewayProcess } from './helpers/cluster.js';

let cluster: Cluster;
let gateway: GatewayProcess;

beforeAll(async () => {
  // Standalone (no reference server): the one server coordinates, so it serves the task queue too.
  cluster = await startCluster(1, 'open', { serverArgs: ['--no-ref'] });
  gateway = await startGateway(cluster, ['--services', 'echo']);
}, CLUSTER_START_MS);

describe('the chat API over HTTP', () => {
  it('logs in, creates a channel, publishes, pages history and conversations with their cursors', async () => {
    const login = await http(`${gateway.url}/v1/login`, { body: { user: 'ana' } });
    expect(login.status).toBe(200);
    expect(login.body).toMatchObject({ user: 'ana', created: true });
    await http(`${gateway.url}/v1/login`, { body: { user: 'bo' } });

    const created = await http(`${gateway.url}/v1/channels`, { body: { user: 'ana', channel: 'general' } });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ created: true });
    const channels = await http(`${gateway.url}/v1/channels?limit=10`);
    expect(channels.body.channels.map((channel: { channel: string }) => channel.channel)).toContain('general');

    const ops = [];
    for (const text of ['one', 'two', 'three']) {
      const published = await http(`${gateway.url}/v1/channels/general/messages`, { body: { user: 'ana', text } });
      expect(published.status).toBe(200);
      ops.push(published.body.op);
    }
    const latest = await http(`${gateway.url}/v1/channels/general/messages?limit=2`);
    expect(latest.status).toBe(200);
    expect(latest.body.messages.map((message: { text: string }) => message.text)).toEqual(['two', 'three']);
    const older = await http(`${gateway.url}/v1/channels/general/messages?limit=2&before=${encodeURIComponent(latest.body.next)}`);
    expect(older.body.messages.map((message: { text: string }) => message.text)).toEqual(['one']);
    expect(older.body.next).toBeUndefined();

    const users = await http(`${gateway.url}/v1/users`);
    expect(users.body.users.map((user: { user: string }) => user.user)).toEqual(expect.arrayContaining(['ana', 'bo']));

    const direct = await http(`${gateway.url}/v1/users/bo/messages`, { body: { user: 'ana', text: 'hi bo' } });
    expect(direct.status).toBe(200);
    const conversation = await http(`${gateway.url}/v1/conversations/ana?user=bo`);
    expect(conversation.status).toBe(200);
    expect(conversation.body.messages.map((message: { text: string }) => message.text)).toEqual(['hi bo']);
    const inbox = await http(`${gateway.url}/v1/inbox?user=bo&limit=10`);
    expect(inbox.status).toBe(200);
    expect(inbox.body.messages.map((message: { from: string; text: string }) => `${message.from}:${message.text}`)).toEqual(['ana:hi bo']);
  });

  it('serves a publish retried with the same Idempotency-Key once', async () => {
    await http(`${gateway.url}/v1/channels`, { body: { user: 'ana', channel: 'retries' } });
    const headers = { 'idempotency-key': 'publish-once-1' };
    const first = await http(`${gateway.url}/v1/channels/retries/messages`, { body: { user: 'ana', text: 'once' }, headers });
    const second = await http(`${gateway.url}/v1/channels/retries/messages`, { body: { user: 'ana', text: 'once' }, headers });
    expect(second.body.op).toEqual(first.body.op);
    const history = await http(`${gateway.url}/v1/channels/retries/messages`);
    expect(history.body.messages).toHaveLength(1);
  });

  it("answers the protocol's typed errors with their HTTP status and the same body", async () => {
    const missing = await http(`${gateway.url}/v1/channels/nowhere/messages`, { body: { user: 'ana', text: 'x' } });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ code: 'BAD_REQUEST', retryable: false });
    const invalid = await http(`${gateway.url}/v1/channels/general/messages`, { body: { user: 'ana', text: 'x', extra: 1 } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.code).toBe('VALIDATION');
    const badLimit = await http(`${gateway.url}/v1/users?limit=100000`);
    expect(badLimit.status).toBe(400);
    expect(badLimit.body.code).toBe('VALIDATION');
    const repeated = await http(`${gateway.url}/v1/channels/general/messages`, { body: { user: 'ana', channel: 'other', text: 'x' } });
    expect(repeated.status).toBe(400);
    const route = await http(`${gateway.url}/v1/nothing-here`);
    expect(route.status).toBe(404);
    expect(route.body.code).toBe('NOT_FOUND');
    const badAuth = await http(`${gateway.url}/v1/users`, { headers: { authorization: 'Basic YWxhZGRpbjpvcGVuc2VzYW1l' } });
    expect(badAuth.status).toBe(401);
    expect(badAuth.body.code).toBe('UNAUTHENTICATED');
  });

  it('calls only allowed services, with validated names', async () => {
    const notAllowed = await http(`${gateway.url}/v1/services/billing`, { body: { action: 'billing.charge' } });
    expect(notAllowed.status).toBe(404);
    const traversal = await http(`${gateway.url}/v1/services/..%2F..%2Fetc`, { body: { action: 'x.y' } });
    expect(traversal.status).toBe(404);
    const wrongAction = await http(`${gateway.url}/v1/services/echo`, { body: { action: 'other.run' } });
    expect(wrongAction.status).toBe(400);
    // Allowed, but no worker serves svc.echo: the broker's answer, as an HTTP status.
    const noWorker = await http(`${gateway.url}/v1/services/echo`, { body: { action: 'echo.say', params: { text: 'hi' } } });
    expect([404, 503, 504]).toContain(noWorker.status);
    const services = await http(`${gateway.url}/v1/services`);
    expect(services.status).toBe(200);
    expect(services.body.services).toEqual(expect.arrayContaining([{ name: 'chat', available: true, callable: false }, { name: 'svc.echo', available: false, callable: true }]));
  });

  it('serves a generated OpenAPI 3.1 document, its docs page, /health and /metrics', async () => {
    const document = await http(`${gateway.url}/openapi.json`);
    expect(document.status).toBe(200);
    expect(document.body.openapi).toBe('3.1.0');
    expect(document.body.paths['/v1/inbox'].get.parameters.map((parameter: { name: string }) => parameter.name)).toEqual(expect.arrayContaining(['limit', 'before']));
    expect(document.body.paths['/v1/channels/{channel}/messages'].post.requestBody.content['application/json'].schema.required).toEqual(['text']);
    expect(document.body.components.schemas.ChatPublishReply).toBeDefined();
    const docs = await fetch(`${gateway.url}/docs`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('swagger');
    const health = await http(`${gateway.url}/health`);
    expect(health.status).toBe(200);
    expect(health.body.ready).toBe(true);
    const metrics = await fetch(`${gateway.url}/metrics`);
    expect(await metrics.text()).toContain('correio_gateway_http_requests_total{route="/v1/channels/:channel/messages",status="200"}');
  });
});

describe('the task queues over HTTP', () => {
  const queue = `http-${Date.now().toString(36)}`;
  let worker: TaskWorker;

  beforeAll(() => {
    worker = new TaskWorker({
      broker: cluster.broker,
      queues: [queue],
      pollMs: 1_000,
      handlers: {
        add: ([a, b]: [number, number]) => a + b,
        refuse: () => {
          throw new PermanentJobError('no such account');
        },
      },
    }).start();
  });

  // Before the cluster's processes are killed (hooks run last registered first).
  afterAll(() => worker?.stop({ graceMs: 0 }));

  it('enqueues, waits for a result, lists with counts, replays a dead letter, cancels and purges', async () => {
    const enqueued = await http(`${gateway.url}/v1/tasks`, { body: { queue, task: 'add', args: [2, 3], id: `${queue}-sum` } });
    expect(enqueued.status).toBe(200);
    expect(enqueued.body).toMatchObject({ created: true, job: { id: `${queue}-sum`, queue, task: 'add', args: [2, 3] } });
    const finished = await http(`${gateway.url}/v1/tasks/${queue}-sum?wait_ms=10000`);
    expect(finished.status).toBe(200);
    expect(finished.body.job).toMatchObject({ state: 'succeeded', result: 5, attempt: 1 });
    const again = await http(`${gateway.url}/v1/tasks`, { body: { queue, task: 'add', args: [40, 2], id: `${queue}-sum` } });
    expect(again.body).toMatchObject({ created: false, job: { result: 5 } });

    // A job that fails for good is a dead letter; replayed, it runs again (and fails again).
    await http(`${gateway.url}/v1/tasks`, { body: { queue, task: 'refuse', id: `${queue}-refused` } });
    expect((await http(`${gateway.url}/v1/tasks/${queue}-refused?wait_ms=10000`)).body.job).toMatchObject({ state: 'dead', error: { type: 'PermanentJobError', message: 'no such account' } });
    const dead = await http(`${gateway.url}/v1/tasks?queue=${queue}&state=dead&limit=10`);
    expect(dead.status).toBe(200);
    expect(dead.body.jobs.map((job: { id: string }) => job.id)).toEqual([`${queue}-refused`]);
    expect(dead.body.counts[queue]).toMatchObject({ succeeded: 1, dead: 1 });
    const retried = await http(`${gateway.url}/v1/tasks/${queue}-refused/retry`, { method: 'POST' });
    expect(retried.status).toBe(200);
    expect(retried.body.job).toMatchObject({ state: 'queued', attempt: 0 });
    expect((await http(`${gateway.url}/v1/tasks/${queue}-refused?wait_ms=10000`)).body.job).toMatchObject({ state: 'dead', attempt: 1 });
    // Only a dead or cancelled job is replayed.
    const notDead = await http(`${gateway.url}/v1/tasks/${queue}-sum/retry`, { method: 'POST' });
    expect(notDead.status).toBe(409);
    expect(notDead.body.code).toBe('CONFLICT');

    // Jobs not due yet: one cancelled by id, the rest purged.
    for (const name of ['later-1', 'later-2', 'later-3']) {
      expect((await http(`${gateway.url}/v1/tasks`, { body: { queue, task: 'add', args: [1, 1], id: `${queue}-${name}`, delay_ms: 600_000 } })).body.job.state).toBe('scheduled');
    }
    const cancelled = await http(`${gateway.url}/v1/tasks/${queue}-later-1/cancel`, { body: {} });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.job.state).toBe('cancelled');
    const purged = await http(`${gateway.url}/v1/tasks/purge`, { body: { queue } });
    expect(purged.status).toBe(200);
    expect(purged.body).toMatchObject({ purged: 2 });
    const page = await http(`${gateway.url}/v1/tasks?queue=${queue}&state=cancelled&limit=2`);
    expect(page.body.jobs).toHaveLength(2);
    expect(page.body.next).toBe(page.body.jobs[1].id);
    const rest = await http(`${gateway.url}/v1/tasks?queue=${queue}&state=cancelled&limit=2&after=${encodeURIComponent(page.body.next)}`);
    expect(rest.body.jobs).toHaveLength(1);
    expect(rest.body.next).toBeUndefined();
    expect(rest.body.counts[queue]).toEqual({ succeeded: 1, dead: 1, cancelled: 3 });

    const schedules = await http(`${gateway.url}/v1/tasks/schedules`);
    expect(schedules.status).toBe(200);
    expect(schedules.body.schedules).toEqual([]);
  });

  it("waits for a job's result longer than a request's time-out: a long poll stretches it by its wait_ms", async () => {
    // A gateway whose requests time out after 1 s, never retried: a wait for a job due in 2 s is answered by the job.
    const impatient = await startGateway(cluster, ['--timeout', '1s', '--retries', '0'], 'impatient gateway');
    const id = `${queue}-due-soon`;
    await http(`${impatient.url}/v1/tasks`, { body: { queue, task: 'add', args: [20, 22], id, delay_ms: 2_000 } });
    const started = Date.now();
    const waited = await http(`${impatient.url}/v1/tasks/${id}?wait_ms=8000`);
    expect(waited.status).toBe(200);
    expect(waited.body.job).toMatchObject({ state: 'succeeded', result: 42 });
    expect(Date.now() - started).toBeGreaterThan(1_000);
    // Without wait_ms, the same request is answered at once.
    expect((await http(`${impatient.url}/v1/tasks/${id}`)).body.job.state).toBe('succeeded');
    await impatient.child.stop(2_000);
  });

  it("answers a task request's typed errors, and documents every task route", async () => {
    const unknown = await http(`${gateway.url}/v1/tasks/never-enqueued`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('NOT_FOUND');
    for (const query of ['state=lost', 'limit=0', 'wait_ms=60001', 'queue=Upper']) {
      const refused = await http(`${gateway.url}/v1/tasks${query.startsWith('wait') ? '/never-enqueued' : ''}?${query}`);
      expect(refused.status, query).toBe(400);
      expect(refused.body.code, query).toBe('VALIDATION');
    }
    const noTask = await http(`${gateway.url}/v1/tasks`, { body: { queue } });
    expect(noTask.status).toBe(400);
    const document = (await http(`${gateway.url}/openapi.json`)).body;
    expect(Object.keys(document.paths).filter((path) => path.startsWith('/v1/tasks')).sort()).toEqual(['/v1/tasks', '/v1/tasks/purge', '/v1/tasks/schedules', '/v1/tasks/{id}', '/v1/tasks/{id}/cancel', '/v1/tasks/{id}/retry']);
    expect(document.paths['/v1/tasks'].get.parameters.map((parameter: { name: string }) => parameter.name)).toEqual(['queue', 'state', 'limit', 'after']);
    expect(document.paths['/v1/tasks'].post.requestBody.content['application/json'].schema.required).toEqual(['queue', 'task']);
    expect(document.paths['/v1/tasks/{id}'].get.parameters.map((parameter: { name: string; in: string }) => `${parameter.in}:${parameter.name}`)).toEqual(['path:id', 'query:wait_ms']);
    expect(document.paths['/v1/tasks/{id}/retry'].post.tags).toEqual(['tasks']);
    expect(document.components.schemas.TasksListReply).toBeDefined();
  });
});
