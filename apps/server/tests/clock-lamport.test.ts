// Lamport order end to end, over real processes (broker, proxy, a standalone server): every reply is
// stamped after the request it answers, an operation's lc lies between the two, a publication is
// stamped after its operation, and a server killed with SIGKILL resumes above every value it issued
// before — replies to reads included, which leave no operation in the store (the mark lives in
// <data-dir>/lamport.json).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AnyEnvelope, BodyOf, LamportInput, MessageType } from '@correio/protocol';
import { LamportStamp, RequestClient, type ClockReading, type Stamp } from '@correio/transport';
import { Collector, eventually } from './helpers/chat.js';
import { clusterHealth } from './helpers/cluster.js';
import { fileScratch, startInfrastructure, startServerProcess, type Infrastructure, type ServerProcess } from './helpers/processes.js';

/** A client clock that remembers the lc it stamped on the last request. */
class RecordingStamp implements Stamp {
  readonly from: string;
  readonly #inner: LamportStamp;
  lastSent = 0;

  constructor(from: string, start = 0) {
    this.from = from;
    this.#inner = new LamportStamp(from, { start });
  }

  tick(): ClockReading {
    const reading = this.#inner.tick();
    this.lastSent = reading.lc;
    return reading;
  }

  current(): ClockReading {
    return this.#inner.current();
  }

  observe(remote: ClockReading, input?: LamportInput): boolean {
    return this.#inner.observe(remote, input);
  }
}

class ProbeClient {
  readonly stamp: RecordingStamp;
  readonly #client: RequestClient;

  constructor(broker: string, from: string, start = 0) {
    this.stamp = new RecordingStamp(from, start);
    this.#client = new RequestClient({ endpoint: broker, stamp: this.stamp, timeout: 5_000 });
  }

  /** One request, no retries (a retry would be stamped anew): the lc sent, and the reply. */
  async send<T extends MessageType>(service: string, type: T, body: BodyOf<T>): Promise<{ sentLc: number; reply: AnyEnvelope }> {
    for (let attempt = 1; ; attempt++) {
      try {
        const reply = await this.#client.request(service, type, body, { retries: 0 });
        return { sentLc: this.stamp.lastSent, reply };
      } catch (error) {
        // Retryable: a worker connection still busy (OVERLOADED), or one of a killed process that
        // the broker has not dropped yet (UNAVAILABLE). The next attempt is stamped anew.
        if (!['OVERLOADED', 'UNAVAILABLE'].includes((error as { code?: string }).code ?? '') || attempt >= 5) throw error;
      }
    }
  }

  close(): Promise<void> {
    return this.#client.close();
  }
}

let infra: Infrastructure;
const scratch = fileScratch({ prefix: 'correio-lamport-', closeFirst: () => Promise.all(clients.map((client) => client.close())) });
const dataDir = join(scratch.dir, 'l1');
const clients: ProbeClient[] = [];
const STANDALONE = ['--no-ref'];

beforeAll(async () => {
  infra = await startInfrastructure();
}, 60_000);


function probe(from: string, start = 0): ProbeClient {
  const client = new ProbeClient(infra.broker, from, start);
  clients.push(client);
  return client;
}

describe('Lamport clocks across real processes', () => {
  let server: ServerProcess;

  it('stamps every reply after its request, operations between the two, publications after their operation', async () => {
    server = await startServerProcess(infra, 'l1', dataDir, STANDALONE);
    const client = probe('lamport-a');
    const service = 'srv.l1';
    const checked: Array<{ sentLc: number; replyLc: number }> = [];
    const send = async <T extends MessageType>(type: T, body: BodyOf<T>) => {
      const result = await client.send(service, type, body);
      checked.push({ sentLc: result.sentLc, replyLc: result.reply.lc });
      return result;
    };
    await send('chat.login.request', { user: 'ana' });
    await send('chat.channel.create.request', { user: 'ana', channel: 'order' });
    const collector = new Collector(infra.proxy.sub, ['chan/order/']);
    try {
      // The subscription reaches the server asynchronously: publish until one arrives.
      await eventually(async () => {
        await send('chat.publish.request', { user: 'ana', channel: 'order', text: 'probe' });
        await new Promise((resolve) => setTimeout(resolve, 50));
        return collector.received.length > 0;
      }, 15_000, 'the subscription');
      for (let i = 0; i < 20; i++) {
        const { sentLc, reply } = await send('chat.publish.request', { user: 'ana', channel: 'order', text: `m${i}` });
        const opLc = (reply.body as BodyOf<'chat.publish.reply'>).lc;
        expect(opLc).toBeGreaterThan(sentLc); // the request was merged before the operation was stamped
        expect(reply.lc).toBeGreaterThan(opLc); // and the reply was stamped after it
        await send('chat.history.request', { channel: 'order', limit: 5 });
      }
      await eventually(() => collector.of('chat.publication').filter((p) => p.text.startsWith('m')).length === 20, 10_000, 'the publications');
      for (const publication of collector.received) {
        const body = publication.envelope.body as BodyOf<'chat.publication'>;
        expect(publication.envelope.lc).toBeGreaterThan(body.lc);
      }
    } finally {
      await collector.close();
    }
    expect(checked.length).toBeGreaterThan(40);
    for (const { sentLc, replyLc } of checked) expect(replyLc).toBeGreaterThan(sentLc);
  }, 60_000);

  it('resumes above every value issued before a SIGKILL, replies to reads included', async () => {
    // A write, then a peer much further ahead pulls the clock up with a read: the newest operation
    // in the store is far below the clock, which only the persisted mark remembers.
    const ahead = probe('lamport-ahead', 5_000_000);
    const { sentLc, reply } = await ahead.send('srv.l1', 'chat.publish.request', { user: 'ana', channel: 'order', text: 'before the crash' });
    expect(reply.lc).toBeGreaterThan(sentLc);
    const further = probe('lamport-further', 9_000_000);
    const read = await further.send('srv.l1', 'chat.users.request', {});
    expect(read.reply.lc).toBeGreaterThan(9_000_000);
    const before = await clusterHealth(server);
    const issuedBefore = Math.max(read.reply.lc, reply.lc, before.lc);
    const mark = JSON.parse(readFileSync(join(dataDir, 'lamport.json'), 'utf8')) as { mark: number };
    expect(mark.mark).toBeGreaterThanOrEqual(issuedBefore); // written ahead of every value issued

    server.child.kill('SIGKILL');
    await server.child.exited;
    server = await startServerProcess(infra, 'l1', dataDir, STANDALONE);

    // A fresh client (lc 0) cannot lift the clock: whatever the server stamps comes from its own mark.
    const fresh = probe('lamport-fresh');
    const after = await fresh.send('srv.l1', 'chat.users.request', {});
    expect(after.reply.lc).toBeGreaterThan(issuedBefore);
    const write = await fresh.send('srv.l1', 'chat.publish.request', { user: 'ana', channel: 'order', text: 'after the crash' });
    expect((write.reply.body as BodyOf<'chat.publish.reply'>).lc).toBeGreaterThan(issuedBefore);
    expect((await clusterHealth(server)).lc).toBeGreaterThan(issuedBefore);
  }, 90_000);
});
