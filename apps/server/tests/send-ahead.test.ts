// With --ack-peers, an origin sends its operation to the peers while its own commit runs
// (SendAheadFence), so a kill -9 can leave an operation on the peers that the origin never
// committed. These tests kill the origin at random points of that overlap, many times, and check
// that nothing acknowledged is lost, nothing is stored twice and no sequence number is given to
// two operations (the three stores converge to one digest); and that a restarted origin writes
// again only once every listed server answered.
import { expect, it } from 'vitest';
import { CorreioError } from '@correio/codec';
import type { ServerHealth } from '@correio/server';
import { ChatClient, wholeHistory } from './helpers/chat.js';
import { fileScratch, startInfrastructure, startServerProcess, type Infrastructure, type ServerProcess } from './helpers/processes.js';
import { converged } from './replication-support.js';

const IDS = ['s1', 's2', 's3'] as const;
let client: ChatClient | undefined;
const scratch = fileScratch({ closeFirst: () => client?.close() });

function startPeer(infra: Infrastructure, id: string, dir: string, ackPeers: number): Promise<ServerProcess> {
  return startServerProcess(infra, id, `${dir}/${id}`, [
    '--peers', IDS.join(','),
    '--no-ref', // a static membership: every listed server must answer before a crashed origin writes
    '--anti-entropy', '300',
    '--concurrency', '32',
    ...(id === 's1' ? ['--ack-peers', String(ackPeers), '--ack-timeout', '1500'] : []),
  ]);
}

const KILLS = 6;
const WRITERS = 12;

it('loses no acknowledged write, stores none twice and reuses no sequence number when the origin is killed -9 at random points of its commits', async () => {
  const infra = await startInfrastructure();
  const dir = `${scratch.dir}/random-kills`;
  const servers = await Promise.all(IDS.map((id) => startPeer(infra, id, dir, 2)));
  client = new ChatClient(infra.broker, 'send-ahead-writers');
  const writers = client;
  await writers.call('srv.s1', 'chat.login.request', { user: 'ana' });
  await writers.call('srv.s1', 'chat.channel.create.request', { user: 'ana', channel: 'ahead' });

  const acked = new Map<string, string>(); // text → op id it was acknowledged with
  let stop = false;
  let learntBack = 0;
  const deadline = Date.now() + 150_000;
  const write = async (text: string): Promise<void> => {
    const id = `ahead-${text.replaceAll(' ', '-')}-${Math.random().toString(36).slice(2, 8)}`;
    for (let attempt = 1; Date.now() < deadline; attempt++) {
      try {
        const reply = await writers.transport.request('srv.s1', 'chat.publish.request', { user: 'ana', channel: 'ahead', text }, { id, timeout: 3_000, retries: 0 });
        const op = (reply.body as { op: { origin: string; seq: number } }).op;
        acked.set(text, `${op.origin}:${op.seq}`);
        return;
      } catch (error) {
        if (!CorreioError.from(error).retryable) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(25 * attempt, 300)));
      }
    }
    throw new Error(`${text} was not acknowledged in time`);
  };
  const streams = Array.from({ length: WRITERS }, async (_, writer) => {
    for (let i = 0; !stop; i++) await write(`writer ${writer} message ${i}`);
  });

  for (let kill = 0; kill < KILLS; kill++) {
    // A random point of the write stream: somewhere in one of the many commits under way.
    const ackedBefore = acked.size;
    for (let wait = 0; wait < 300 && acked.size < ackedBefore + 20; wait++) await new Promise((resolve) => setTimeout(resolve, 50));
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 300));
    servers[0]!.child.kill('SIGKILL');
    await servers[0]!.child.exited;
    servers[0] = await startPeer(infra, 's1', dir, 2);
    const health = (await (await fetch(`${servers[0].http}/health`)).json()) as { replication: { catchUp?: { fetched: number } } };
    learntBack += health.replication.catchUp?.fetched ?? 0;
  }
  for (let wait = 0; wait < 300 && acked.size < 40 * KILLS; wait++) await new Promise((resolve) => setTimeout(resolve, 50));
  stop = true;
  await Promise.all(streams);

  // One digest on all three: had a number gone to two operations, the hashes would differ.
  const { digest } = await converged(writers, IDS, 30_000);
  for (const id of IDS) {
    const history = await wholeHistory(writers, `srv.${id}`, 'ahead');
    const byText = new Map<string, string[]>();
    for (const publication of history) byText.set(publication.text, [...(byText.get(publication.text) ?? []), `${publication.op.origin}:${publication.op.seq}`]);
    for (const [text, op] of acked) expect(byText.get(text), `${text} on ${id}`).toEqual([op]);
    // Nothing twice, and nothing but what was written (unacknowledged writes were retried until acknowledged).
    expect(history.length, id).toBe(acked.size);
  }
  expect(digest.hwm['s1']).toBe(acked.size + 2);
  console.info(`send-ahead: ${acked.size} acknowledged writes across ${KILLS} kill -9 of the origin; ${learntBack} operations learnt back from peers after restarts`);
}, 240_000);

it('lets a crashed origin write again only once every listed server answered; after a clean stop at once', async () => {
  const infra = await startInfrastructure();
  const dir = `${scratch.dir}/rule`;
  // --ack-peers 1: s1 can write with s3 down.
  const servers = await Promise.all(IDS.map((id) => startPeer(infra, id, dir, 1)));
  const own = new ChatClient(infra.broker, 'send-ahead-rule');
  try {
    const publish = (text: string, timeout = 3_000) => own.transport.request('srv.s1', 'chat.publish.request', { user: 'bo', channel: 'rule', text }, { timeout, retries: 0 });
    await own.call('srv.s1', 'chat.login.request', { user: 'bo' });
    await own.call('srv.s1', 'chat.channel.create.request', { user: 'bo', channel: 'rule' });
    for (let i = 0; i < 5; i++) await publish(`before ${i}`);
    servers[2]!.child.kill('SIGKILL');
    await servers[2]!.child.exited;

    // A clean stop leaves nothing ahead: the restarted origin writes at once, s3 still down.
    servers[0]!.child.kill('SIGTERM');
    await servers[0]!.child.exited;
    servers[0] = await startPeer(infra, 's1', dir, 1);
    await publish('after a clean stop');

    // A kill -9 may have left operations on the peers only: refused until s3 (listed, down) answered too.
    servers[0]!.child.kill('SIGKILL');
    await servers[0]!.child.exited;
    servers[0] = await startPeer(infra, 's1', dir, 1);
    for (let i = 0; i < 4; i++) {
      const failure = await publish('while resolving').then(
        () => undefined,
        (error: unknown) => CorreioError.from(error),
      );
      expect(failure).toMatchObject({ code: 'UNAVAILABLE', retryable: true, data: { server: 's1', reason: 'resolving_sent_ahead' } });
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    // Reads are served meanwhile, and /health says whom it waits for.
    expect((await own.call('srv.s1', 'chat.history.request', { channel: 'rule', limit: 10 })).messages).toHaveLength(6);
    const waiting = (await (await fetch(`${servers[0].http}/health`)).json()) as ServerHealth;
    expect(waiting.replication.sendAhead).toEqual({ unresolved: true, waitingFor: ['s3'] });

    servers[2] = await startPeer(infra, 's3', dir, 1);
    let accepted = false;
    for (let attempt = 0; attempt < 100 && !accepted; attempt++) {
      accepted = await publish('once s3 answered').then(
        () => true,
        () => false,
      );
      if (!accepted) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(accepted).toBe(true);
    const resolved = (await (await fetch(`${servers[0].http}/health`)).json()) as ServerHealth;
    expect(resolved.replication.sendAhead).toEqual({ unresolved: false, waitingFor: [] });
    await converged(own, IDS, 15_000);
  } finally {
    await own.close();
  }
}, 180_000);
