// Guarded mode: subscribers are served by Correio's own ZMTP 3.1 implementation (XPubServer), so
// the proxy knows each subscription's connection. Real libzmq peers (zeromq.js, pyzmq) over tcp
// and ipc, NULL and CURVE; wrong keys, plaintext peers, garbage and non-subscriber sockets are
// refused and counted while the proxy keeps serving.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Child, killAll, readMetric, scratchDir, sleep, spawnProgram, waitFor, workspaceRoot } from '@correio/testing';
import { fixtures, startProxyProcess, type ProxyProcess } from './helpers/children.js';

const python = join(workspaceRoot, '.venv', 'bin', 'python');
// CI installs the Python peers (tools/scripts/setup-peers.sh); a developer without them is told so.
const pythonAvailable = existsSync(python);
if (!pythonAvailable && process.env['CI']) throw new Error('the Python peers (.venv with pyzmq) are missing; run tools/scripts/setup-peers.sh');

const sockets = scratchDir('correio-guarded-');
const open: zmq.Socket[] = [];
afterEach(async () => {
  for (const socket of open.splice(0)) socket.close();
  await killAll();
});
afterAll(() => sockets.remove());

const TOPIC = 'chan/guarded/';
let proxies = 0;

interface Guarded {
  readonly proxy: ProxyProcess;
  readonly keys: ReturnType<typeof zmq.curveKeyPair> | undefined;
}

/** A guarded proxy (on tcp or ipc, NULL or CURVE) and a @correio/transport publisher on TOPIC every 20 ms. */
async function guardedProxy(transport: 'tcp' | 'ipc', curve: boolean, args: readonly string[] = []): Promise<Guarded> {
  const keys = curve ? zmq.curveKeyPair() : undefined;
  const endpoints = transport === 'ipc' ? ['--publishers', `ipc://${join(sockets.dir, `${++proxies}-pub`)}`, '--subscribers', `ipc://${join(sockets.dir, `${proxies}-sub`)}`] : [];
  const proxy = await startProxyProcess([...endpoints, '--mode', 'guarded', '--http-port', '0', ...(keys ? ['--curve-secret-key', keys.secretKey] : []), ...args]);
  expect(proxy.mode).toBe('guarded');
  expect(proxy.subscribers.startsWith(`${transport}://`)).toBe(true);
  spawnProgram('publisher', join(fixtures, 'transport-publisher.ts'), ['--endpoint', proxy.publishers, '--topics', TOPIC, ...(keys ? ['--curve-server-key', keys.publicKey] : [])]);
  return { proxy, keys };
}

/** A zeromq.js SUB of TOPIC; CURVE with `serverKey` (and its own or the given client keys). */
function subscriber(endpoint: string, serverKey?: string, client = zmq.curveKeyPair()): zmq.Subscriber {
  const socket = new zmq.Subscriber({ linger: 0, receiveTimeout: 15_000, ...(serverKey ? { curveServerKey: serverKey, curvePublicKey: client.publicKey, curveSecretKey: client.secretKey } : {}) });
  open.push(socket);
  socket.connect(endpoint);
  socket.subscribe(TOPIC);
  return socket;
}

/** Resolves with the topic of the next publication the socket receives. */
async function nextTopic(socket: zmq.Subscriber): Promise<string> {
  const [topic] = await socket.receive();
  return topic!.toString('latin1');
}

const refusals = (proxy: ProxyProcess, reason: string) => readMetric(proxy.http!, 'correio_proxy_connections_refused_total', { reason });

describe.each([
  ['tcp', false],
  ['tcp', true],
  ['ipc', false],
  ['ipc', true],
] as const)('the guarded proxy over %s (CURVE: %s)', (transport, curve) => {
  it('delivers publications to a zeromq.js subscriber, counts its subscription, releases it when it leaves', async () => {
    const { proxy, keys } = await guardedProxy(transport, curve);
    const socket = subscriber(proxy.subscribers, keys?.publicKey);
    expect(await nextTopic(socket)).toBe(TOPIC);
    expect(await readMetric(proxy.http!, 'correio_proxy_subscriptions', { topic: TOPIC })).toBe(1);
    expect(await readMetric(proxy.http!, 'correio_proxy_topics_forwarded')).toBe(1);
    socket.close();
    await waitFor(async () => (await readMetric(proxy.http!, 'correio_proxy_topics_forwarded')) === 0, 'the subscription released');
    expect(await readMetric(proxy.http!, 'correio_proxy_disconnects_total', { side: 'subscribers' })).toBe(1);
  });
});

describe.skipIf(!pythonAvailable).each([false, true])('the guarded proxy and a pyzmq subscriber (CURVE: %s)', (curve) => {
  it('delivers publications to it', async () => {
    const { proxy, keys } = await guardedProxy('tcp', curve);
    // `--key=value`: a Z85 key may start with '-', which argparse takes for an option when it stands alone (1 run in 85).
    const process = spawn(python, ['-u', join(fixtures, 'pyzmq_subscriber.py'), '--endpoint', proxy.subscribers, '--topic', TOPIC, '--count', '3', ...(keys ? [`--curve-server-key=${keys.publicKey}`] : [])], {
      cwd: workspaceRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const peer = new Child('pyzmq subscriber', process);
    await peer.waitForEvent('received', 3, 30_000);
    expect(await peer.exited).toEqual({ code: 0, signal: null });
    expect(peer.events('received').every((event) => event['topic'] === TOPIC && event['frames'] === 3)).toBe(true);
  });
});

describe('the guarded proxy with CURVE refuses', () => {
  it('a wrong server key, a plaintext peer and a client key off the allow-list, counting each, and serves the others', async () => {
    const allowed = zmq.curveKeyPair();
    const { proxy, keys } = await guardedProxy('tcp', true, ['--curve-allow', allowed.publicKey]);
    const good = subscriber(proxy.subscribers, keys!.publicKey, allowed);
    expect(await nextTopic(good)).toBe(TOPIC);

    subscriber(proxy.subscribers, zmq.curveKeyPair().publicKey);
    await waitFor(async () => (await refusals(proxy, 'auth')) >= 1, 'a wrong server key refused');
    // libzmq hangs up itself on reading a greeting that names another mechanism than its own.
    subscriber(proxy.subscribers);
    await waitFor(async () => (await refusals(proxy, 'abandoned')) + (await refusals(proxy, 'mechanism')) >= 1, 'a plaintext peer refused');
    const before = await refusals(proxy, 'auth');
    subscriber(proxy.subscribers, keys!.publicKey);
    await waitFor(async () => (await refusals(proxy, 'auth')) > before, 'a client off the allow-list refused');

    expect(await readMetric(proxy.http!, 'correio_proxy_subscriptions', { topic: TOPIC })).toBe(1);
    expect(proxy.child.stderr).toMatch(/subscriber connection refused/);
    expect(await nextTopic(good)).toBe(TOPIC);
  });
});

describe('the guarded proxy refuses', () => {
  it('garbage for a greeting and a socket that is no subscriber, and keeps serving', async () => {
    const { proxy } = await guardedProxy('tcp', false);
    const good = subscriber(proxy.subscribers);
    expect(await nextTopic(good)).toBe(TOPIC);

    const url = new URL(proxy.subscribers);
    const garbage = connect({ host: url.hostname, port: Number(url.port) });
    garbage.on('error', () => undefined);
    garbage.write(Buffer.from('GET / HTTP/1.1\r\nHost: proxy\r\n\r\n'));
    await waitFor(async () => (await refusals(proxy, 'greeting')) === 1, 'the garbage refused');
    garbage.destroy();

    const publisher = new zmq.Publisher({ linger: 0 });
    open.push(publisher);
    publisher.connect(proxy.subscribers);
    await waitFor(async () => (await refusals(proxy, 'socket-type')) >= 1, 'a PUB socket refused');

    expect(await nextTopic(good)).toBe(TOPIC);
  });

  it.each([false, true])('never a subscriber that heartbeats: PING is answered with PONG (CURVE: %s)', async (curve) => {
    const { proxy, keys } = await guardedProxy('tcp', curve);
    // libzmq drops a connection that receives nothing for heartbeatTimeout after a PING; on a
    // topic nobody publishes, only the PONGs arrive.
    const client = zmq.curveKeyPair();
    const security = keys ? { curveServerKey: keys.publicKey, curvePublicKey: client.publicKey, curveSecretKey: client.secretKey } : {};
    const socket = new zmq.Subscriber({ linger: 0, heartbeatInterval: 100, heartbeatTimeout: 1_000, ...security });
    open.push(socket);
    socket.connect(proxy.subscribers);
    socket.subscribe('chan/quiet/');
    await waitFor(async () => (await readMetric(proxy.http!, 'correio_proxy_subscriptions', { topic: 'chan/quiet/' })) === 1, 'the quiet subscription');
    // Three heartbeat timeouts: without PONGs libzmq would have dropped the connection by then.
    await sleep(3_000);
    expect(await readMetric(proxy.http!, 'correio_proxy_disconnects_total', { side: 'subscribers' })).toBe(0);
    expect(await readMetric(proxy.http!, 'correio_proxy_subscriptions', { topic: 'chan/quiet/' })).toBe(1);
  });
});
