// Hostile and production edges over real HTTP and WebSocket connections: malformed and huge
// bodies, header abuse, path traversal, rate limits with Retry-After, CORS, security headers,
// the socket limit, and 1,000 WebSockets that connect and vanish.
import { request as httpRequest } from 'node:http';
import { readMetric, waitFor } from '@correio/testing';
import WebSocket from 'ws';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_START_MS, http, startCluster, startGateway, type Cluster, type GatewayProcess } from './helpers/cluster.js';
import { StreamClient } from './helpers/streamClient.js';

let cluster: Cluster;
let gateway: GatewayProcess;

beforeAll(async () => {
  cluster = await startCluster(1);
  gateway = await startGateway(cluster, ['--cors-origins', 'https://app.example', '--max-sockets', '1200']);
  await http(`${gateway.url}/v1/login`, { body: { user: 'ana' } });
  await http(`${gateway.url}/v1/channels`, { body: { user: 'ana', channel: 'edges' } });
}, CLUSTER_START_MS);

/** A raw HTTP/1.1 request, for what fetch will not send (oversized headers); 0 when the server closed the connection instead of answering. */
function rawStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const request = httpRequest(`${url}/v1/users`, { headers }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', () => resolve(0));
    request.end();
  });
}

describe('hostile HTTP input', () => {
  it('answers malformed JSON, huge bodies, wrong media types and path traversal with typed 4xx errors', async () => {
    const publish = `${gateway.url}/v1/channels/edges/messages`;
    const malformed = await http(publish, { raw: '{"user": "ana", "text": ' });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ code: 'DECODE', retryable: false });
    const notObject = await http(publish, { raw: '[1,2,3]' });
    expect(notObject.status).toBe(400);
    const huge = await http(publish, { raw: JSON.stringify({ user: 'ana', text: 'x'.repeat(200_000) }) });
    expect(huge.status).toBe(413);
    expect(huge.body.code).toBe('TOO_LARGE');
    const media = await http(publish, { raw: 'user=ana', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(media.status).toBe(415);
    expect(media.body.code).toBe('BAD_REQUEST');
    for (const name of ['..%2F..%2Fetc%2Fpasswd', '%2e%2e', 'a%00b', 'x'.repeat(300)]) {
      const traversal = await http(`${gateway.url}/v1/channels/${name}/messages`, { body: { user: 'ana', text: 'x' } });
      expect([400, 404, 414]).toContain(traversal.status);
      expect(['VALIDATION', 'NOT_FOUND', 'BAD_REQUEST']).toContain(traversal.body.code);
    }
    const history = await http(`${gateway.url}/v1/channels/edges/messages?limit=1&limit=2`);
    expect(history.status).toBe(400);
  });

  it('refuses header abuse and keeps serving', async () => {
    expect([0, 400, 431]).toContain(await rawStatus(gateway.url, { 'x-junk': 'x'.repeat(40_000) }));
    const many = Object.fromEntries(Array.from({ length: 500 }, (_, index) => [`x-h${index}`, 'v'.repeat(60)]));
    expect([0, 400, 431]).toContain(await rawStatus(gateway.url, many));
    const badId = await http(`${gateway.url}/v1/users`, { headers: { 'x-request-id': 'bad id\twith tabs' } });
    expect(badId.status).toBe(200);
    expect(badId.headers.get('x-request-id')).toMatch(/^[A-Za-z0-9_-]+$/);
    const goodId = await http(`${gateway.url}/v1/users`, { headers: { 'x-request-id': 'trace-123' } });
    expect(goodId.headers.get('x-request-id')).toBe('trace-123');
    const badKey = await http(`${gateway.url}/v1/channels/edges/messages`, { body: { user: 'ana', text: 'x' }, headers: { 'idempotency-key': 'no spaces allowed' } });
    expect(badKey.status).toBe(400);
    expect((await http(`${gateway.url}/health`)).status).toBe(200);
  });

  it('sends security headers and CORS headers for allowed origins only', async () => {
    const plain = await http(`${gateway.url}/v1/users`);
    expect(plain.headers.get('x-content-type-options')).toBe('nosniff');
    expect(plain.headers.get('strict-transport-security')).toBeTruthy();
    const allowed = await fetch(`${gateway.url}/v1/users`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const refused = await fetch(`${gateway.url}/v1/users`, { headers: { origin: 'https://evil.example' } });
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('rate limits', () => {
  it('answer 429 with Retry-After per address and per token', async () => {
    const limited = await startGateway(cluster, ['--rate-ip', '8', '--rate-token', '3', '--rate-window', '60s'], 'limited gateway');
    const statuses = [];
    for (let index = 0; index < 4; index += 1) statuses.push((await http(`${limited.url}/v1/users`, { headers: { authorization: 'Bearer aaa.bbb.ccc' } })).status);
    expect(statuses.slice(0, 3).every((status) => status !== 429)).toBe(true);
    const byToken = await http(`${limited.url}/v1/users`, { headers: { authorization: 'Bearer aaa.bbb.ccc' } });
    expect(byToken.status).toBe(429);
    expect(Number(byToken.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(byToken.body).toMatchObject({ code: 'OVERLOADED', retryable: true });
    // Another token has its own budget, but the address's budget runs out too.
    let last = 0;
    for (let index = 0; index < 8 && last !== 429; index += 1) last = (await http(`${limited.url}/v1/users`)).status;
    expect(last).toBe(429);
    const byIp = await http(`${limited.url}/v1/users`);
    expect(byIp.status).toBe(429);
    expect(Number(byIp.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await http(`${limited.url}/health`)).status).toBe(200);
    await limited.child.stop();
  });
});

describe('WebSocket limits', () => {
  it('survives 1,000 WebSockets that connect and vanish, with bounded memory, and refuses sockets beyond the limit', async () => {
    const rss = async () => readMetric(gateway.url, 'correio_process_resident_memory_bytes');
    // A scrape may time out while a thousand handshakes are served on a busy machine: try again.
    const metric = (name: string) => readMetric(gateway.url, name).catch(() => undefined);
    const before = await rss();
    const sockets = await Promise.all(
      Array.from({ length: 1_000 }, (_, index) =>
        new Promise<WebSocket>((resolve) => {
          const socket = new WebSocket(gateway.stream);
          socket.on('error', () => undefined);
          socket.on('open', () => {
            if (index % 2 === 0) socket.send(JSON.stringify({ type: 'auth', user: `user${index % 50}` }));
            if (index % 4 === 0) socket.send(JSON.stringify({ type: 'subscribe', channel: 'edges' }));
            resolve(socket);
          });
          socket.on('close', () => resolve(socket));
        }),
      ),
    );
    await waitFor(async () => ((await metric('correio_gateway_ws_connections')) ?? 0) >= 900, 'the sockets to be open', 60_000);
    // Vanish: no close handshake, the TCP connections just end.
    for (const socket of sockets) socket.terminate();
    await waitFor(async () => (await metric('correio_gateway_ws_connections')) === 0, 'every socket to be gone', 60_000);
    // What stays: the dashboard's timeline topics (ref/membership/, election/), joined for the gateway's life.
    await waitFor(async () => ((await metric('correio_gateway_upstream_topics')) ?? 4) <= 1 + 2, 'the upstream topics to be released');
    expect((await http(`${gateway.url}/health`)).status).toBe(200);
    expect((await http(`${gateway.url}/v1/channels/edges/messages`, { body: { user: 'ana', text: 'still here' } })).status).toBe(200);
    const after = await rss();
    expect(after - before).toBeLessThan(200 * 1024 * 1024);

    const small = await startGateway(cluster, ['--max-sockets', '3'], 'small gateway');
    const three = await Promise.all([0, 1, 2].map(() => new Promise<WebSocket>((resolve) => { const socket = new WebSocket(small.stream); socket.on('open', () => resolve(socket)); })));
    const refused = await new Promise<number>((resolve) => {
      const socket = new WebSocket(small.stream);
      socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      socket.on('error', () => undefined);
    });
    expect(refused).toBe(503);
    for (const socket of three) socket.terminate();
    await small.child.stop();
  });

  it('closes a socket that stops reading (4408) instead of queueing for it without bound', async () => {
    const strict = await startGateway(cluster, ['--socket-buffer', '65536'], 'strict gateway');
    await http(`${strict.url}/v1/channels`, { body: { user: 'ana', channel: 'bulk' } });
    // 12 KB each (4,000 three-byte characters): a few megabytes in all, more than the kernel buffers of one connection.
    const text = '€'.repeat(4_000);
    const ops = [];
    for (let batch = 0; batch < 25; batch += 1) {
      ops.push(...(await Promise.all(Array.from({ length: 16 }, async () => (await http(`${strict.url}/v1/channels/bulk/messages`, { body: { user: 'ana', text } })).body.op))));
    }
    const reader = await StreamClient.open(strict.stream, { user: 'ana' });
    reader.socket.pause();
    // Resuming from the first op sends the other 399 at once, to a socket that reads nothing.
    reader.send({ type: 'subscribe', channel: 'bulk', after: ops[0] });
    await waitFor(async () => ((await readMetric(strict.url, 'correio_gateway_ws_closed_total', { code: '4408' }).catch(() => 0)) >= 1), 'the slow socket to be closed', 60_000);
    expect(await readMetric(strict.url, 'correio_gateway_ws_connections')).toBe(0);
    expect((await http(`${strict.url}/health`)).status).toBe(200);
    reader.socket.terminate();
    await strict.child.stop();
  });
});
