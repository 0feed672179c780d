import { UnavailableError } from '@correio/codec';
import {
  generateCurveKeyPair,
  isZ85Key,
  loadCurveKeys,
  Publisher,
  RepServer,
  ReqClient,
  RequestClient,
  Subscriber,
  Worker,
  z85Decode,
  z85Encode,
  ZapAuthenticator,
  type HandshakeFailure,
  type ZapDecision,
} from '@correio/transport';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bindAddress, NETWORK_TRANSPORTS } from './helpers/endpoints.js';
import { echoBody, echoResult, resultOf } from './helpers/messages.js';
import { TestBroker } from './helpers/TestBroker.js';
import { waitFor, within } from './helpers/wait.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

describe('CURVE keys', () => {
  it('encodes and decodes Z85 exactly as libzmq does', () => {
    for (let i = 0; i < 20; i += 1) {
      const { publicKey, secretKey } = generateCurveKeyPair();
      for (const key of [publicKey, secretKey]) {
        expect(isZ85Key(key)).toBe(true);
        const bytes = z85Decode(key);
        expect(bytes).toHaveLength(32);
        expect(z85Encode(bytes)).toBe(key);
      }
    }
    expect(z85Encode(Buffer.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]))).toBe('HelloWorld'); // RFC 32 test vector
    expect(isZ85Key('too short')).toBe(false);
    expect(() => z85Decode('abc"~')).toThrow(RangeError);
  });

  it('loads keys from inline text, files, the environment and certificate files, and rejects bad ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'correio-keys-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const server = generateCurveKeyPair();
    const client = generateCurveKeyPair();
    writeFileSync(join(dir, 'server.pub'), `${server.publicKey}\n`);
    writeFileSync(join(dir, 'client.cert'), `metadata\ncurve\n    public-key = "${client.publicKey}"\n    secret-key = "${client.secretKey}"\n`);
    const environment = { CLIENT_SECRET: client.secretKey, BROKEN: 'not-a-key' };
    expect(loadCurveKeys({ serverKey: { file: join(dir, 'server.pub') }, publicKey: client.publicKey, secretKey: { env: 'CLIENT_SECRET' }, environment })).toEqual({
      serverKey: server.publicKey,
      publicKey: client.publicKey,
      secretKey: client.secretKey,
    });
    expect(loadCurveKeys({ certificateFile: join(dir, 'client.cert') })).toEqual({ publicKey: client.publicKey, secretKey: client.secretKey });
    expect(() => loadCurveKeys({ secretKey: { env: 'BROKEN' }, environment })).toThrow(/not a 40-character Z85 key/);
    expect(() => loadCurveKeys({ secretKey: { env: 'MISSING' }, environment })).toThrow(/is not set/);
  });
});

describe.each(NETWORK_TRANSPORTS)('CURVE with a ZAP allow-list over %s', (transport) => {
  const serverKeys = generateCurveKeyPair();
  const allowed = generateCurveKeyPair();
  const stranger = generateCurveKeyPair();
  const asClient = (keys: { publicKey: string; secretKey: string }) => ({ serverKey: serverKeys.publicKey, ...keys });

  async function authenticator(): Promise<{ zap: ZapAuthenticator; accepted: ZapDecision[]; refused: ZapDecision[] }> {
    const zap = await ZapAuthenticator.start({ allow: [allowed.publicKey] });
    cleanup.push(() => zap.close());
    const accepted: ZapDecision[] = [];
    const refused: ZapDecision[] = [];
    zap.events.on('accepted', (decision) => accepted.push(decision));
    zap.events.on('refused', (decision) => refused.push(decision));
    return { zap, accepted, refused };
  }

  it('MDP: an allowed worker and client get through; a stranger gets a typed error, and the refusal is visible', async () => {
    const { zap, accepted, refused } = await authenticator();
    const broker = await TestBroker.start(bindAddress(transport, 'curve-broker'), { curveSecretKey: serverKeys.secretKey, heartbeatInterval: 200 });
    cleanup.push(() => broker.close());
    const worker = new Worker({ framing: 'classic', endpoint: broker.endpoint, service: 'echo', handler: echoResult, curve: asClient(allowed) }).start();
    cleanup.push(() => worker.stop({ drainTimeout: 0 }));
    const client = new RequestClient({ framing: 'classic', endpoint: broker.endpoint, curve: asClient(allowed), timeout: 5000 });
    cleanup.push(() => client.close());
    expect(resultOf(await client.request('echo', 'service.call.request', echoBody({ secret: true })))).toEqual({ secret: true });
    expect(accepted.map((decision) => decision.publicKey)).toContain(allowed.publicKey);

    const intruder = new RequestClient({ framing: 'classic', endpoint: broker.endpoint, curve: asClient(stranger), timeout: 500 });
    cleanup.push(() => intruder.close());
    const failures: HandshakeFailure[] = [];
    intruder.events.on('handshakeFailed', (failure) => failures.push(failure));
    const failure = await intruder.request('echo', 'service.call.request', echoBody({})).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UnavailableError);
    expect((failure as UnavailableError).message).toMatch(/handshake .* failed \(auth 400/);
    expect((failure as UnavailableError).data).toMatchObject({ handshake: 'auth' });
    expect(failures[0]).toMatchObject({ reason: 'auth', status: 400 });
    expect(refused[0]).toMatchObject({ mechanism: 'CURVE', publicKey: stranger.publicKey, reason: 'public key not on the allow-list' });
    expect(zap.stats.refused).toBeGreaterThanOrEqual(1);
  });

  it('REQ/REP and pub/sub run over CURVE too', async () => {
    await authenticator();
    const rep = new RepServer({ handler: echoResult, curve: { server: true, secretKey: serverKeys.secretKey } });
    cleanup.push(() => rep.stop());
    const endpoint = await rep.bind(bindAddress(transport, 'curve-rep'));
    rep.start();
    const req = new ReqClient({ endpoint, curve: asClient(allowed), timeout: 5000 });
    cleanup.push(() => req.close());
    expect(resultOf(await req.request('service.call.request', echoBody({ n: 1 })))).toEqual({ n: 1 });
    const refusedReq = new ReqClient({ endpoint, curve: asClient(stranger), timeout: 300 });
    cleanup.push(() => refusedReq.close());
    await expect(refusedReq.request('service.call.request', echoBody({}))).rejects.toBeInstanceOf(UnavailableError);

    const publisher = new Publisher({ curve: { server: true, secretKey: serverKeys.secretKey } });
    cleanup.push(() => publisher.close({ flushTimeout: 0 }));
    const pubEndpoint = await publisher.bind(bindAddress(transport, 'curve-pub'));
    const subscriber = new Subscriber({ curve: asClient(allowed), topics: ['secure/'] });
    cleanup.push(() => subscriber.close());
    subscriber.connect(pubEndpoint);
    const publications = subscriber[Symbol.asyncIterator]();
    const first = publications.next();
    const timer = setInterval(() => publisher.publish('secure/', 'service.event', { event: 'x.y', sender: 's' }), 10);
    const received = await within(first, 5000, 'a publication over CURVE').finally(() => clearInterval(timer));
    expect(received.done).toBe(false);
  });

  // This test once aborted its process in libzmq (pipe.cpp:355): ZapAuthenticator.close() unbound
  // through zeromq.js's thread-pool unbind while its receive was pending, so two threads ran one
  // socket's commands. It closes without unbinding now (docs/architecture.md, "Native aborts");
  // npm run stress:lifecycle repeats the pattern.
  it('reports a NULL client meeting a CURVE broker (mechanism mismatch) as a handshake failure, not auth, and the broker keeps serving', async () => {
    await authenticator();
    const broker = await TestBroker.start(bindAddress(transport, 'curve-mismatch'), { curveSecretKey: serverKeys.secretKey });
    cleanup.push(() => broker.close());
    const plain = new RequestClient({ framing: 'classic', endpoint: broker.endpoint, timeout: 300 });
    cleanup.push(() => plain.close());
    const failures: HandshakeFailure[] = [];
    plain.events.on('handshakeFailed', (failure) => failures.push(failure));
    await expect(plain.request('echo', 'service.call.request', echoBody({}))).rejects.toBeInstanceOf(UnavailableError);
    await waitFor(() => failures.length > 0, 'a handshake failure event');
    // The side that notices first reports the mismatch (protocol); the other may only see the connection drop (EPIPE).
    expect(['protocol', 'other']).toContain(failures[0]!.reason);

    const worker = new Worker({ framing: 'classic', endpoint: broker.endpoint, service: 'echo', handler: echoResult, curve: asClient(allowed) }).start();
    cleanup.push(() => worker.stop({ drainTimeout: 0 }));
    const client = new RequestClient({ framing: 'classic', endpoint: broker.endpoint, curve: asClient(allowed), timeout: 5000 });
    cleanup.push(() => client.close());
    expect(resultOf(await client.request('echo', 'service.call.request', echoBody({ after: 'mismatch' })))).toEqual({ after: 'mismatch' });
  });
});
