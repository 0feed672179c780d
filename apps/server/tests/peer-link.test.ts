// Direct requests between servers (protocol revision 1.8, FRAMES.md §1.11), all real processes
// over TCP: each server binds a ROUTER for its srv.<id> and registers it with the reference server
// as `peer`; the others send it their replica.apply batches (and task, log and config requests)
// there while connected, and through the broker otherwise. Four servers, p1 acknowledging a write
// only once all three peers hold it:
//   p2 — a working direct endpoint (the default: a free loopback port);
//   p3 — registers p2's endpoint as its own: p2 answers UNKNOWN_SERVICE, and p3 is reached through the broker;
//   p4 — registers an endpoint where nothing listens: p4 is reached through the broker.
import { join } from 'node:path';
import { Dealer } from 'zeromq';
import { beforeAll, describe, expect, it } from 'vitest';
import { MessageCodec } from '@correio/codec';
import type { RefServersReply } from '@correio/protocol';
import type { ServerHealth } from '@correio/server';
import { waitFor } from '@correio/testing';
import { RequestClient } from '@correio/transport';
import { ChatClient, rawEnvelope } from './helpers/chat.js';
import { clusterHealth, startClusterServer, startRefProcess } from './helpers/cluster.js';
import { fileScratch, startInfrastructure, type Infrastructure, type ServerProcess } from './helpers/processes.js';
import { converged } from './replication-support.js';

/** Nothing listens on port 1 of the loopback: a connection there is refused at once. */
const NOWHERE = 'tcp://127.0.0.1:1';
const WRITES = 20;

let infra: Infrastructure;
const servers: Record<string, ServerProcess> = {};
let chat: ChatClient;
let raw: RequestClient;
let direct: RequestClient | undefined;
let dealer: Dealer | undefined;
const scratch = fileScratch({
  prefix: 'correio-peer-link-',
  closeFirst: async () => {
    dealer?.close();
    await direct?.close();
    await chat?.close();
    await raw?.close();
  },
});

const health = (id: string): Promise<ServerHealth> => clusterHealth(servers[id]!);

beforeAll(async () => {
  infra = await startInfrastructure();
  await startRefProcess(infra, join(scratch.dir, 'ref'));
  const [p2, p4] = await Promise.all([
    startClusterServer(infra, 'p2', join(scratch.dir, 'p2')),
    startClusterServer(infra, 'p4', join(scratch.dir, 'p4'), ['--peer-bind', 'tcp://127.0.0.1:0', '--peer-endpoint', NOWHERE]),
  ]);
  servers['p2'] = p2;
  servers['p4'] = p4;
  const p2Endpoint = (await health('p2')).peerLink.endpoint!;
  servers['p3'] = await startClusterServer(infra, 'p3', join(scratch.dir, 'p3'), ['--peer-bind', 'tcp://127.0.0.1:0', '--peer-endpoint', p2Endpoint]);
  servers['p1'] = await startClusterServer(infra, 'p1', join(scratch.dir, 'p1'), ['--ack-peers', '3', '--ack-timeout', '3000']);
  chat = new ChatClient(infra.broker, 'peer-link-test');
  raw = new RequestClient({ endpoint: infra.broker, from: 'peer-link-probe', timeout: 3_000 });
  // p1 waits for three confirmations: every server must be listed alive first.
  await waitFor(async () => ((await health('p1')).cluster.peers.length === 3 ? true : undefined), 'p1 to list its three peers', 20_000);
}, 120_000);

describe('direct requests between servers', () => {
  it('lists each server\'s direct endpoint in the reference server\'s list', async () => {
    const { servers: listed } = (await raw.request('ref', 'ref.servers.request', {})).body as RefServersReply;
    const peers = Object.fromEntries(listed.map((item) => [item.server, item.peer]));
    expect(peers['p1']).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(peers['p2']).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(peers['p3']).toBe(peers['p2']);
    expect(peers['p4']).toBe(NOWHERE);
    expect((await health('p1')).peerLink.endpoint).toBe(peers['p1']);
  });

  it('confirms every write through each peer, directly where it can and through the broker where it cannot', async () => {
    const before = await health('p1');
    const servedBefore = (await health('p2')).peerLink.served;
    await chat.call('srv.p1', 'chat.login.request', { user: 'ana' });
    await chat.call('srv.p1', 'chat.channel.create.request', { user: 'ana', channel: 'direct' }, { timeout: 10_000 });
    for (let i = 0; i < WRITES; i++) {
      const reply = await chat.call('srv.p1', 'chat.publish.request', { user: 'ana', channel: 'direct', text: `write ${i}` }, { timeout: 10_000 });
      expect(reply.op.origin).toBe('p1');
    }
    const after = await health('p1');
    // Each write's batch reached p2 on the link (batches may carry several writes: at least one per write here, as they are sequential).
    expect(after.peerLink.direct - before.peerLink.direct).toBeGreaterThanOrEqual(WRITES + 2);
    expect((await health('p2')).peerLink.served - servedBefore).toBeGreaterThanOrEqual(WRITES + 2);
    // p3's and p4's went through the broker; p2's endpoint told p1 once that it is not p3's.
    expect(after.peerLink.viaBroker - before.peerLink.viaBroker).toBeGreaterThanOrEqual(2 * (WRITES + 2));
    expect(after.peerLink.misdirected).toBe(1);
    await converged(chat, ['p1', 'p2', 'p3', 'p4'], 10_000);
  });

  it('serves srv.<id> and (revision 1.9) chat on the endpoint as the broker does, and answers another service UNKNOWN_SERVICE', async () => {
    direct = new RequestClient({ endpoint: (await health('p1')).peerLink.endpoint!, from: 'peer-link-direct', timeout: 3_000 });
    const users = await direct.request('srv.p1', 'chat.users.request', {});
    expect(users.type).toBe('chat.users.reply');
    expect((await direct.request('chat', 'chat.users.request', {})).body).toEqual(users.body);
    await expect(direct.request('srv.p2', 'chat.users.request', {})).rejects.toMatchObject({ code: 'UNKNOWN_SERVICE', retryable: false });
    // config is served through the broker only.
    await expect(direct.request('config', 'config.get.request', { program: 'server' })).rejects.toMatchObject({ code: 'UNKNOWN_SERVICE' });
  });

  it('drops or refuses hostile frames on the endpoint and keeps serving', async () => {
    const endpoint = (await health('p1')).peerLink.endpoint!;
    dealer = new Dealer({ receiveTimeout: 3_000, linger: 0 });
    dealer.connect(endpoint);
    const codec = new MessageCodec();
    const request = (body: Buffer | Uint8Array): Buffer[] => [Buffer.from('MDPC02'), Buffer.of(1), Buffer.from('srv.p1'), Buffer.from(body)];
    // Not MDP client REQUESTs: dropped unanswered.
    await dealer.send([Buffer.from('garbage')]);
    await dealer.send([Buffer.from('MDPW02'), Buffer.of(1), Buffer.from('srv.p1')]);
    await dealer.send([Buffer.from('MDPC02'), Buffer.of(3), Buffer.from('srv.p1'), Buffer.from('x')]);
    // REQUESTs whose bodies are not valid requests: each answered with an error envelope.
    const bad: [Buffer | Uint8Array, string][] = [
      [Buffer.from([0xc1, 0xff, 0x00]), 'DECODE'],
      // A map whose first key is __proto__ (msgpack fixmap, "__proto__" then a map): never merged into an object's prototype.
      [Buffer.concat([Buffer.from([0x81, 0xa9]), Buffer.from('__proto__'), Buffer.from([0x81, 0xa1, 0x76, 0x01])]), 'DECODE'],
      [rawEnvelope('chat.users.request', {}, { v: 99 }), 'UNSUPPORTED_VERSION'],
      [rawEnvelope('chat.publish.request', { user: 'ana', channel: 'direct', text: 'x'.repeat(5_000) }), 'VALIDATION'],
      [rawEnvelope('replica.apply.request', { ops: [] }), 'VALIDATION'],
    ];
    for (const [body] of bad) await dealer.send(request(body));
    // The same on `chat`, which clients send there (revision 1.9).
    const onChat = (body: Buffer | Uint8Array): Buffer[] => [Buffer.from('MDPC02'), Buffer.of(1), Buffer.from('chat'), Buffer.from(body)];
    for (const [body] of bad) await dealer.send(onChat(body));
    const codes: string[] = [];
    for (let i = 0; i < 2 * bad.length; i++) {
      const [, , , envelope] = await dealer.receive();
      codes.push((codec.decode(envelope!) as { body: { code: string } }).body.code);
    }
    expect(codes.sort()).toEqual([...bad, ...bad].map(([, code]) => code).sort());
    // Still serving, on the endpoint and through the broker; the server counts what it dropped.
    expect((await direct!.request('srv.p1', 'chat.users.request', {})).type).toBe('chat.users.reply');
    expect((await direct!.request('chat', 'chat.users.request', {})).type).toBe('chat.users.reply');
    await chat.call('srv.p1', 'chat.publish.request', { user: 'ana', channel: 'direct', text: 'after the garbage' }, { timeout: 10_000 });
  });
});
