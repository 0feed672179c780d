// kill -9 a chat server in the middle of a stream of acknowledged writes from many concurrent
// writers, restart it on the same data directory, and check that every acknowledged write is there
// exactly once. Writers retry with the same request id until acknowledged, as a client should: a
// write committed just before the kill but never acknowledged is recognised by its id afterwards.
import { expect, it } from 'vitest';
import { CorreioError } from '@correio/codec';
import { ChatClient, Collector, eventually, wholeHistory } from './helpers/chat.js';
import { fileScratch, startInfrastructure, startServerProcess } from './helpers/processes.js';

const scratch = fileScratch();

const WRITERS = 48;
const PER_WRITER = 30;
/** Two kill -9 and restart cycles, each in the middle of the stream. */
const KILL_AT_ACKS = [400, 1000];

it('keeps every acknowledged write exactly once across kill -9 and restart', async () => {
  const infra = await startInfrastructure();
  const dataDir = `${scratch.dir}/s1`;
  let server = await startServerProcess(infra, 's1', dataDir, ['--concurrency', '32']);
  const client = new ChatClient(infra.broker, 'crash-writers');
  try {
    const users = Array.from({ length: 8 }, (_, i) => `writer${i}`);
    for (const user of users) await client.call('srv.s1', 'chat.login.request', { user });
    await client.call('srv.s1', 'chat.channel.create.request', { user: 'writer0', channel: 'crash' });

    const acked = new Map<string, { text: string; op: string }>();
    let attempts = 0;
    let retried = 0;
    let killedAt = 0;
    let kills = 0;
    let serverUp = true;
    let restarted: Promise<void> = Promise.resolve();
    const started = performance.now();
    const deadline = Date.now() + 120_000;

    const write = async (writer: number, i: number): Promise<void> => {
      const id = `crash-${writer}-${i}-${Math.random().toString(36).slice(2, 10)}`;
      const text = `writer ${writer} message ${i}`;
      for (let attempt = 1; ; attempt++) {
        attempts++;
        if (attempt > 1) retried++;
        try {
          const reply = await client.transport.request('srv.s1', 'chat.publish.request', { user: users[writer % users.length]!, channel: 'crash', text }, { id, timeout: 3_000, retries: 0 });
          const body = reply.body as { op: { origin: string; seq: number } };
          acked.set(id, { text, op: `${body.op.origin}:${body.op.seq}` });
          if (kills < KILL_AT_ACKS.length && acked.size >= KILL_AT_ACKS[kills]! && serverUp) {
            kills++;
            serverUp = false;
            if (killedAt === 0) killedAt = performance.now();
            const victim = server;
            victim.child.kill('SIGKILL');
            restarted = (async () => {
              await victim.child.exited;
              server = await startServerProcess(infra, 's1', dataDir, ['--concurrency', '32']);
              serverUp = true;
            })();
          }
          return;
        } catch (error) {
          const failure = CorreioError.from(error);
          if (!failure.retryable || Date.now() > deadline) throw failure;
          await new Promise((resolve) => setTimeout(resolve, Math.min(50 * attempt, 500)));
        }
      }
    };
    await Promise.all(
      Array.from({ length: WRITERS }, async (_, writer) => {
        for (let i = 0; i < PER_WRITER; i++) await write(writer, i);
      }),
    );
    const finished = performance.now();
    await restarted;
    expect(kills).toBe(KILL_AT_ACKS.length);
    expect(server.readyLine).toMatch(/^server ready s1 /);

    // Read it back through srv.s1: every acknowledged write exactly once, under the op id it was acknowledged with.
    const history = await wholeHistory(client, 'srv.s1', 'crash');
    const byText = new Map<string, string[]>();
    for (const publication of history) byText.set(publication.text, [...(byText.get(publication.text) ?? []), `${publication.op.origin}:${publication.op.seq}`]);
    expect(acked.size).toBe(WRITERS * PER_WRITER);
    for (const { text, op } of acked.values()) expect(byText.get(text), text).toEqual([op]);
    expect(history).toHaveLength(WRITERS * PER_WRITER);

    const health = (await (await fetch(`${server.http}/health`)).json()) as { store: { ops: number }; deduplicated: number };
    expect(health.store.ops).toBe(users.length + 1 + WRITERS * PER_WRITER);
    const beforeKillSeconds = (killedAt - started) / 1000;
    console.info(
      `crash test: ${KILL_AT_ACKS[0]} acknowledged writes in ${beforeKillSeconds.toFixed(2)} s before the first kill -9 ` +
        `(${Math.round(KILL_AT_ACKS[0]! / beforeKillSeconds)} writes/s, ${WRITERS} writers); all ${acked.size} acknowledged after ` +
        `${((finished - started) / 1000).toFixed(2)} s and ${KILL_AT_ACKS.length} kill/restart cycles; ${attempts} attempts, ${retried} retries; ` +
        `${health.deduplicated} answered by request id by the last run`,
    );
  } finally {
    await client.close();
  }
}, 180_000);

it('answers a write committed but never acknowledged before kill -9 by its request id after the restart, and announces it again', async () => {
  const infra = await startInfrastructure();
  const dataDir = `${scratch.dir}/s2`;
  const server = await startServerProcess(infra, 's2', dataDir);
  const client = new ChatClient(infra.broker, 'impatient');
  try {
    await client.call('srv.s2', 'chat.login.request', { user: 'ana' });
    await client.call('srv.s2', 'chat.channel.create.request', { user: 'ana', channel: 'lost-ack' });
    // The client gives up at once; the server commits anyway. Its acknowledgement is lost with the process.
    const body = { user: 'ana', channel: 'lost-ack', text: 'did it arrive?' };
    await expect(client.transport.request('srv.s2', 'chat.publish.request', body, { id: 'lost-ack-00001', timeout: 1, retries: 0 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    await eventually(async () => (await client.call('srv.s2', 'chat.history.request', { channel: 'lost-ack' })).messages.length === 1, 10_000, 'the write committed');
    const [committed] = (await client.call('srv.s2', 'chat.history.request', { channel: 'lost-ack' })).messages;
    server.child.kill('SIGKILL');
    await server.child.exited;

    const restarted = await startServerProcess(infra, 's2', dataDir);
    const collector = new Collector(infra.proxy.sub, ['chan/lost-ack/']);
    try {
      await new Promise((resolve) => setTimeout(resolve, 500)); // let the subscription reach the server
      const retry = await client.call('srv.s2', 'chat.publish.request', body, { id: 'lost-ack-00001' });
      expect(retry).toEqual({ op: committed!.op, channel: 'lost-ack', lc: committed!.lc, ts: committed!.ts });
      expect((await client.call('srv.s2', 'chat.history.request', { channel: 'lost-ack' })).messages).toEqual([committed]);
      // The earlier run may have died before announcing it: the retry announces it (again), under the same op id.
      await eventually(() => collector.of('chat.publication').length === 1, 10_000, 'the re-announcement');
      expect(collector.of('chat.publication')[0]).toEqual(committed);
      const health = (await (await fetch(`${restarted.http}/health`)).json()) as { deduplicated: number };
      expect(health.deduplicated).toBe(1);
    } finally {
      await collector.close();
    }
  } finally {
    await client.close();
  }
}, 120_000);
