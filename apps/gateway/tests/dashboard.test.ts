// The operators' dashboard (WebSocket /v1/dashboard, issue #17) over real sockets against a real
// cluster (broker, proxy, reference server, three servers, each with its /health and /metrics):
// operators get valid snapshots of every process and service; others are refused with typed close
// codes; hostile frames close only their own socket; a killed coordinator shows down within the
// reference server's heartbeat bound, a new one is elected, and the restarted server comes back up.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@correio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_START_MS, http, startCluster, startGateway, startServer, type Cluster, type GatewayProcess, type Json } from './helpers/cluster.js';
import { DashboardClient } from './helpers/dashboardClient.js';

const INTERVAL_MS = 500;
/** The reference server's defaults (apps/ref/src/cli.ts): a heartbeat a second, three missed mark a server down. */
const REF_HEARTBEAT_MS = 1_000;
const REF_MISSES = 3;
/** The gateway's bound on each /health, /metrics and ref.servers fetch (startGateway.ts). */
const FETCH_TIMEOUT_MS = 800;
const SERVERS = ['s1', 's2', 's3'];

let cluster: Cluster;
let gateway: GatewayProcess;
const clients: DashboardClient[] = [];
let anaToken: string;
let boToken: string;

async function login(user: string, password: string): Promise<string> {
  expect((await http(`${gateway.url}/v1/register`, { body: { user, password } })).status).toBe(201);
  const reply = await http(`${gateway.url}/v1/login`, { body: { user, password } });
  expect(reply.status).toBe(200);
  return reply.body.token as string;
}

async function dashboard(auth: { token?: string } = {}, url = gateway.url): Promise<DashboardClient> {
  const client = await DashboardClient.open(url, auth);
  clients.push(client);
  return client;
}

const node = (snapshot: Json, id: string): Json => snapshot.nodes.find((entry: Json) => entry.id === id);

beforeAll(async () => {
  cluster = await startCluster(SERVERS.length, 'password', { ref: true, http: true, operators: ['ana'] });
  const monitors = ['broker', 'proxy', 'ref'].flatMap((kind) => ['--monitor', `${kind}=${cluster.monitoring.get(kind)}`]);
  gateway = await startGateway(cluster, [...monitors, '--dashboard-interval', String(INTERVAL_MS), '--auth-timeout', '3s', '--id', 'gw-1']);
  anaToken = await login('ana', 'correct horse battery');
  boToken = await login('bo', 'another good one');
}, CLUSTER_START_MS);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
});

describe('an operator', () => {
  it('gets ready, then valid snapshots of every process and service, whose counts rise with traffic', async () => {
    const client = await dashboard({ token: anaToken });
    expect(client.closed).toBeUndefined();
    expect(client.ready).toMatchObject({ type: 'ready', user: 'ana', expires_at: expect.any(Number) });
    // Every server up and ranked, a coordinator named that says it is one, the chat service with its workers, and
    // every process's numbers read (a /metrics slower than the fetch time-out leaves them out of one snapshot).
    const complete = (snapshot: Json) =>
      snapshot.coordinator !== undefined &&
      node(snapshot, snapshot.coordinator)?.role === 'coordinator' &&
      snapshot.nodes.every((entry: Json) => entry.rss_bytes !== undefined && entry.uptime_ms !== undefined) &&
      SERVERS.every((id) => node(snapshot, id)?.state === 'up' && node(snapshot, id).rank !== undefined) &&
      snapshot.services.some((service: Json) => service.name === 'chat' && service.workers >= SERVERS.length);
    const snapshot = await client.nextSnapshot(complete, 30_000);
    expect(snapshot.gateway).toBe('gw-1');
    // The gateway, the monitored processes in the order given, then the servers by rank.
    expect(snapshot.nodes.slice(0, 4).map((entry: Json) => [entry.id, entry.kind])).toEqual([
      ['gw-1', 'gateway'],
      ['broker', 'broker'],
      ['proxy', 'proxy'],
      ['ref', 'ref'],
    ]);
    const servers = snapshot.nodes.slice(4);
    expect(servers.map((entry: Json) => entry.kind)).toEqual(SERVERS.map(() => 'server'));
    expect(servers.map((entry: Json) => entry.id).sort()).toEqual(SERVERS);
    const ranks = servers.map((entry: Json) => entry.rank);
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    for (const entry of snapshot.nodes) {
      expect(entry.state, entry.id).toBe('up');
      expect(entry.rss_bytes, entry.id).toBeGreaterThan(0);
      expect(entry.uptime_ms, entry.id).toBeGreaterThan(0);
      expect(entry.http, entry.id).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    }
    expect(node(snapshot, 'gw-1').version).toMatch(/^\d+\.\d+\.\d+/);
    expect(new Set(ranks).size).toBe(SERVERS.length);
    expect(SERVERS).toContain(snapshot.coordinator);

    // Traffic through the broker: the chat service's request counts (deltas) add up to at least it.
    const from = client.snapshots().length;
    const requests = 30;
    for (let i = 0; i < requests; i += 1) expect((await http(`${gateway.url}/v1/users`, { headers: { authorization: `Bearer ${anaToken}` } })).status).toBe(200);
    const chatRequests = () => client.snapshots(from).reduce((sum, entry) => sum + (entry.services.find((service: Json) => service.name === 'chat')?.requests ?? 0), 0);
    await waitFor(() => chatRequests() >= requests, `${requests} chat requests counted`, 15_000);
    // Latencies are of the replies sent in the interval (a request counted in one may be answered in the next).
    const timed = (entry: Json) => entry.services.find((service: Json) => service.name === 'chat' && service.p50_us !== undefined);
    const chat = timed(client.snapshots(from).find(timed));
    expect(chat.p50_us).toBeGreaterThan(0);
    expect(chat.p99_us).toBeGreaterThanOrEqual(chat.p50_us);
    // The gateway counts a request once its answer is sent: the last one may land in a later snapshot.
    const gatewayRequests = () => client.snapshots(from).reduce((sum, entry) => sum + (node(entry, 'gw-1').requests ?? 0), 0);
    await waitFor(() => gatewayRequests() >= requests, `the gateway's own ${requests} requests counted`, 15_000);

    // A write shows in the servers' drill-down: store, high-water marks, the newest operations (no texts).
    const bearer = { authorization: `Bearer ${anaToken}` };
    expect((await http(`${gateway.url}/v1/channels`, { body: { channel: 'ops' }, headers: bearer })).status).toBe(200);
    expect((await http(`${gateway.url}/v1/channels/ops/messages`, { body: { text: 'a secret text' }, headers: bearer })).status).toBe(200);
    const published = (entry: Json) => entry.recent_ops?.some((op: Json) => op.kind === 'publish' && op.summary === 'ana in ops');
    const written = await client.nextSnapshot((entry) => SERVERS.every((id) => published(node(entry, id) ?? {})), 15_000, from);
    for (const id of SERVERS) {
      const server = node(written, id);
      expect(server.role, id).toBe(id === written.coordinator ? 'coordinator' : 'follower');
      expect(server.lamport, id).toBeGreaterThan(0);
      expect(server.store_ops, id).toBeGreaterThan(0);
      expect(server.store_bytes, id).toBeGreaterThan(0);
      expect(server.replication_lag_ops, id).toBeGreaterThanOrEqual(0);
      expect(server.high_water_marks.length, id).toBeGreaterThan(0);
      expect(JSON.stringify(server)).not.toContain('a secret text');
    }
    // Clock offsets arrive with the coordinator's Berkeley rounds (every 10 s by default), each
    // against the coordinator's clock: the coordinator's own is 0.
    const measured = await client.nextSnapshot((entry) => SERVERS.every((id) => Number.isInteger(node(entry, id)?.clock_offset_us)), 30_000, from);
    expect(node(measured, measured.coordinator).clock_offset_us).toBe(0);
    expect(client.invalid).toEqual([]);
  });

  it('sees a killed coordinator go down within the heartbeat bound, a new one elected, and the server back up after a restart', async () => {
    const client = await dashboard({ token: anaToken });
    const before = await client.nextSnapshot((snapshot) => snapshot.coordinator !== undefined && SERVERS.every((id) => node(snapshot, id)?.state === 'up'), 30_000);
    const victim: string = before.coordinator;
    const child = cluster.servers.find((server) => server.name === `server ${victim}`)!;
    const from = client.snapshots().length;
    const killedAt = Date.now();
    child.kill('SIGKILL');
    await child.exited;

    // The gateway sees it unreachable at its next gather; the reference server marks it down
    // after heartbeat × misses (its sweep runs each quarter heartbeat). Either way, within:
    const boundMs = REF_HEARTBEAT_MS * REF_MISSES + REF_HEARTBEAT_MS + 2 * INTERVAL_MS + 2 * FETCH_TIMEOUT_MS;
    const down = await client.nextSnapshot((snapshot) => node(snapshot, victim)?.state === 'down', boundMs, from);
    expect(down.at - killedAt).toBeLessThanOrEqual(boundMs);

    const elected = await client.nextSnapshot((snapshot) => snapshot.coordinator !== undefined && snapshot.coordinator !== victim, 30_000, from);
    const successor: string = elected.coordinator;
    await waitFor(() => client.events().find((event: Json) => event.kind === 'election' && event.node === successor), 'the election event', 15_000);
    await waitFor(() => client.events().find((event: Json) => event.kind === 'node' && event.node === victim && event.state === 'unreachable'), 'the unreachable event', 5_000);

    const restartFrom = client.snapshots().length;
    await startServer(cluster, victim, SERVERS.filter((id) => id !== victim));
    await client.nextSnapshot((snapshot) => node(snapshot, victim)?.state === 'up', 30_000, restartFrom);
    await waitFor(() => client.events().find((event: Json) => event.kind === 'membership' && event.node === victim && event.state === 'up'), 'the membership event of the restart', 15_000);
    expect(client.invalid).toEqual([]);
  });
});

describe('everyone else', () => {
  it('is closed 4403 with a valid token that is not an operator\'s', async () => {
    const client = await dashboard({ token: boToken });
    expect(await client.whenClosed()).toEqual({ code: 4403, reason: 'operators only' });
    expect(client.snapshots()).toEqual([]);
  });

  it('is closed as unauthenticated (4401) without a token, with a forged one, or without an auth message in time', async () => {
    const none = await dashboard();
    expect((await none.whenClosed()).code).toBe(4401);
    const [header, payload] = anaToken.split('.');
    const forged = await dashboard({ token: `${header}.${payload}.${'A'.repeat(43)}` });
    expect((await forged.whenClosed()).code).toBe(4401);
    const garbage = await dashboard({ token: 'not a token' });
    expect((await garbage.whenClosed()).code).toBe(4401);
    const silent = await DashboardClient.connect(gateway.url);
    clients.push(silent);
    expect(await silent.whenClosed(10_000)).toEqual({ code: 4401, reason: 'no auth message in time' });
  });
});

describe('hostile input on the dashboard socket', () => {
  it('closes only the offending socket, with a typed code, and keeps serving', async () => {
    const watcher = await dashboard({ token: anaToken });
    const cases: { send: (client: DashboardClient) => void; code: number }[] = [
      { send: (client) => client.send('{not json'), code: 4400 },
      { send: (client) => client.send('[1,2]'), code: 4400 },
      { send: (client) => client.socket.send(Buffer.from([1, 2, 3]), { binary: true }), code: 4400 },
      { send: (client) => client.send({ type: 'auth', token: 'x'.repeat(20_000) }), code: 1009 },
      { send: (client) => client.send('{"__proto__":{"type":"auth"},"token":"x"}'), code: 4401 },
      { send: (client) => client.send({ type: 'subscribe', channel: 'general' }), code: 4401 },
    ];
    for (const { send, code } of cases) {
      const client = await DashboardClient.connect(gateway.url);
      clients.push(client);
      send(client);
      expect((await client.whenClosed()).code).toBe(code);
    }
    // After auth: another auth, an unknown type, or anything but ping closes it; ping is answered.
    for (const message of [JSON.stringify({ type: 'auth', token: anaToken }), '{"type":"nonsense"}', '{"type":"ping","__proto__":{"admin":true}}']) {
      const client = await dashboard({ token: anaToken });
      client.send(message);
      if (message.includes('ping')) {
        await waitFor(() => client.messages.find((entry) => entry.type === 'pong'), 'pong', 5_000);
        continue;
      }
      expect((await client.whenClosed()).code).toBe(4400);
    }
    const count = watcher.snapshots().length;
    await waitFor(() => watcher.snapshots().length > count + 1, 'more snapshots for the operator who behaved', 10_000);
    expect(watcher.closed).toBeUndefined();
    expect((await http(`${gateway.url}/health`)).status).toBe(200);
    expect(watcher.invalid).toEqual([]);
  });
});

describe('a gateway running --auth open', () => {
  it('lets a dashboard in without a token', async () => {
    const open = await startGateway({ ...cluster, auth: 'open' }, ['--dashboard-interval', String(INTERVAL_MS), '--monitor', `broker=${cluster.monitoring.get('broker')}`], 'gateway-open');
    const client = await dashboard({}, open.url);
    expect(client.ready).toMatchObject({ type: 'ready', user: null });
    const snapshot = await client.nextSnapshot((entry) => entry.services.length > 0 && entry.nodes.length >= 2 + SERVERS.length, 30_000);
    expect(snapshot.nodes[1]).toMatchObject({ id: 'broker', kind: 'broker', state: 'up' });
    expect(client.invalid).toEqual([]);
    // SIGTERM: the dashboard is told to reconnect elsewhere, as streams are.
    await open.child.stop();
    expect((await client.whenClosed()).code).toBe(1012);
  });
});

describe('monitored processes that misbehave', () => {
  /** An HTTP server on a free loopback port; its URL. */
  async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
    const server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
  }

  it('cost one bounded wait each: a /health that never answers shows down, an endless /metrics is cut, the snapshots keep coming', async () => {
    // Never answers: the gateway's fetch times out.
    const hanging = await serve(() => undefined);
    // Healthy, but its /metrics never ends: the gateway stops reading at its size cap.
    let flooded = 0;
    const flooding = await serve((request, response) => {
      if (request.url === '/health') return void response.writeHead(200, { 'content-type': 'application/json' }).end('{"ready":true,"status":"ok","version":"9.9.9"}');
      response.writeHead(200, { 'content-type': 'text/plain' });
      const line = `${'x'.repeat(1_000)} 1\n`;
      const more = () => {
        while (!response.destroyed && response.write(line)) flooded += line.length;
      };
      response.on('drain', more);
      more();
    });
    try {
      const odd = await startGateway(cluster, ['--dashboard-interval', String(INTERVAL_MS), '--monitor', `broker=${hanging.url},proxy=${flooding.url}`], 'gateway-odd');
      const client = await dashboard({ token: anaToken }, odd.url);
      const snapshot = await client.nextSnapshot((entry) => node(entry, 'broker')?.state === 'down' && node(entry, 'proxy')?.state === 'up', 30_000);
      expect(node(snapshot, 'proxy')).toMatchObject({ version: '9.9.9', status: 'ok' });
      expect(node(snapshot, 'proxy').rss_bytes).toBeUndefined();
      expect(flooded).toBeGreaterThan(4 * 1024 * 1024);
      // Gathers go on, one at a time, each bounded by the fetch time-out.
      const count = client.snapshots().length;
      await waitFor(() => client.snapshots().length >= count + 3, 'three more snapshots', 15_000);
      expect(client.invalid).toEqual([]);
      await client.close();
      await odd.child.stop();
    } finally {
      for (const { server } of [hanging, flooding]) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    }
  });
  it('shows only what fits the schema of well-formed answers carrying extreme values: clamped, cut to the bounds, or left out', async () => {
    const health = {
      ready: true,
      status: 's'.repeat(5_000),
      version: 'v'.repeat(65),
      rank: 1e300,
      clock_offset_us: 2 ** 60,
      lamport: -5,
      store_ops: 1e300,
      ['__proto__']: { polluted: true },
      high_water_marks: Array.from({ length: 5_000 }, (_, index) => ({ origin: `o${index}`, seq: index })),
      recent_ops: [{ origin: 's1', seq: 1, kind: 'publish', at: 1 }, { origin: 's1', seq: -1, kind: 'publish', at: 1 }],
    };
    const services = Array.from({ length: 2_000 }, (_, index) => `correio_broker_workers{service="svc${index}"} 1`);
    const metrics = [
      'correio_process_resident_memory_bytes 1e308',
      'correio_process_cpu_seconds_total NaN',
      'correio_process_start_time_seconds -Inf',
      'correio_broker_requests_total{service="chat"} +Inf',
      'correio_broker_queue_depth{service="chat"} -7',
      'correio_broker_workers{service="__proto__"} 3',
      ...services,
    ].join('\n');
    const extreme = await serve((request, response) => {
      if (request.url === '/health') return void response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(health));
      response.writeHead(200, { 'content-type': 'text/plain' }).end(metrics);
    });
    try {
      const odd = await startGateway(cluster, ['--dashboard-interval', String(INTERVAL_MS), '--monitor', `broker=${extreme.url}`], 'gateway-extreme');
      const client = await dashboard({ token: anaToken }, odd.url);
      const snapshot = await client.nextSnapshot((entry) => node(entry, 'broker')?.state === 'up' && entry.services.length > 0, 30_000);
      const broker = node(snapshot, 'broker');
      expect(broker.status).toHaveLength(64);
      expect(broker.rss_bytes).toBe(Number.MAX_SAFE_INTEGER);
      expect(broker.store_ops).toBe(Number.MAX_SAFE_INTEGER);
      expect(broker.high_water_marks).toHaveLength(1_000);
      for (const absent of ['version', 'rank', 'clock_offset_us', 'lamport', 'recent_ops', 'cpu_permille', 'uptime_ms', 'polluted']) expect(broker[absent], absent).toBeUndefined();
      expect(snapshot.services).toHaveLength(1_000);
      expect(snapshot.services.map((service: Json) => service.name)).not.toContain('__proto__');
      expect(snapshot.services.find((service: Json) => service.name === 'chat')).toMatchObject({ queue_depth: 0, requests: 0 });
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      // The gateway goes on gathering, and every snapshot it sent fits the schema.
      const count = client.snapshots().length;
      await waitFor(() => client.snapshots().length >= count + 2, 'two more snapshots', 15_000);
      expect(client.invalid).toEqual([]);
      await client.close();
      await odd.child.stop();
    } finally {
      extreme.server.closeAllConnections();
      await new Promise((resolve) => extreme.server.close(resolve));
    }
  });
});

describe('an operator whose token expires', () => {
  it('is closed 4401 when the token does, after ready and snapshots', async () => {
    // A cluster of its own whose access tokens live 5 s (the token's exp is in whole seconds, so 4 s
    // or more after the login): time enough for the socket's ready and first snapshot.
    const ttlMs = 5_000;
    const short = await startCluster(1, 'password', { operators: ['ana'], serverArgs: ['--auth-access-ttl', String(ttlMs)] });
    const edge = await startGateway(short, ['--dashboard-interval', String(INTERVAL_MS)], 'gateway-short');
    expect((await http(`${edge.url}/v1/register`, { body: { user: 'ana', password: 'correct horse battery' } })).status).toBe(201);
    const login = await http(`${edge.url}/v1/login`, { body: { user: 'ana', password: 'correct horse battery' } });
    const client = await dashboard({ token: login.body.token }, edge.url);
    expect(client.ready).toMatchObject({ user: 'ana', expires_at: login.body.expires_at });
    await client.nextSnapshot(() => true, 10_000);
    const closed = await client.whenClosed(ttlMs + 5_000);
    expect(closed).toEqual({ code: 4401, reason: 'the token expired: refresh and reconnect' });
    // Not before the token expired (a timer may round a millisecond or so early).
    expect(Date.now()).toBeGreaterThanOrEqual(login.body.expires_at - 20);
    expect(client.invalid).toEqual([]);
  });
});
