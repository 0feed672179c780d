// The chat API over HTTP against a running cluster: broker, proxy, one chat server and the gateway
// as child processes; every request a real HTTP request.
import { beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_START_MS, http, startCluster, startGateway, type GatewayProcess } from './helpers/cluster.js';

let gateway: GatewayProcess;

beforeAll(async () => {
  const cluster = await startCluster(1);
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
