import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Replicator, serveApply, serveDigest, serveFetch, type PeerTransport } from '@correio/replication';
import type { Operation } from '@correio/protocol';
import { MemoryLog, publishOp } from './support/MemoryLog.js';

/**
 * N servers joined by an in-memory network that loses live publications at random and can cut
 * servers off: the repair and anti-entropy paths must still bring every log to the same digest.
 */
class Network {
  readonly logs = new Map<string, MemoryLog>();
  readonly replicators = new Map<string, Replicator>();
  readonly down = new Set<string>();
  constructor(readonly ids: readonly string[], readonly dropLive: (from: string, to: string, op: Operation) => boolean) {
    for (const id of ids) this.logs.set(id, new MemoryLog());
    for (const id of ids) {
      this.replicators.set(
        id,
        new Replicator({ self: id, log: this.logs.get(id)!, transport: this.#transport(id), peers: () => ids.filter((p) => p !== id && !this.down.has(p)) }),
      );
    }
  }

  #reach(from: string, to: string): MemoryLog {
    if (this.down.has(from) || this.down.has(to)) throw new Error(`${to} is unreachable from ${from}`);
    return this.logs.get(to)!;
  }

  #transport(self: string): PeerTransport {
    return {
      publish: (op) => {
        for (const id of this.ids) {
          if (id === self || this.down.has(id) || this.down.has(self) || this.dropLive(self, id, op)) continue;
          void this.replicators.get(id)!.receive(op);
        }
      },
      fetch: async (peer, request) => serveFetch(this.#reach(self, peer), request),
      digest: async (peer) => serveDigest(this.#reach(self, peer), peer),
      apply: async (peer, ops) => serveApply(this.#reach(self, peer), peer, { ops: ops as [Operation, ...Operation[]] }),
    };
  }

  async write(origin: string, text: string): Promise<Operation> {
    const log = this.logs.get(origin)!;
    const op = publishOp(origin, log.highWaterMark(origin) + 1, text);
    await log.apply([op]);
    this.replicators.get(origin)!.publish(op);
    return op;
  }

  digests() {
    return this.ids.map((id) => this.logs.get(id)!.digest());
  }
}

describe('Replicator convergence (simulated network)', () => {
  it('repairs lost live publications through gap detection and anti-entropy', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(2), fc.boolean()), { minLength: 1, maxLength: 60 }), async (writes) => {
        const lost = new Set<Operation>();
        const net = new Network(['s1', 's2', 's3'], (_from, _to, op) => lost.has(op));
        const written: Operation[] = [];
        for (const [who, drop] of writes) {
          const origin = net.ids[who]!;
          const log = net.logs.get(origin)!;
          const op = publishOp(origin, log.highWaterMark(origin) + 1);
          if (drop) lost.add(op);
          await log.apply([op]);
          net.replicators.get(origin)!.publish(op);
          written.push(op);
        }
        // Let gap repairs finish, then one anti-entropy pass per server.
        for (const replicator of net.replicators.values()) await replicator.catchUp();
        const digests = net.digests();
        expect(digests[1]).toEqual(digests[0]);
        expect(digests[2]).toEqual(digests[0]);
        expect(digests[0]!.ops).toBe(written.length);
      }),
      { numRuns: 60 },
    );
  });

  it('brings a server that was cut off back in line, and catch-up reports unreachable peers', async () => {
    const net = new Network(['s1', 's2', 's3'], () => false);
    await net.write('s1', 'before');
    net.down.add('s3');
    for (let i = 0; i < 20; i++) await net.write(i % 2 ? 's1' : 's2', `during ${i}`);
    expect(net.logs.get('s3')!.digest().ops).toBe(1);
    expect(await net.replicators.get('s3')!.catchUp()).toEqual(['s1', 's2']); // cut off: nobody answers
    net.down.delete('s3');
    await net.write('s3', 'after');
    expect(await net.replicators.get('s3')!.catchUp()).toEqual([]);
    for (const replicator of net.replicators.values()) await replicator.catchUp();
    const [a, b, c] = net.digests();
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(a!.ops).toBe(22);
    const status = net.replicators.get('s3')!.peers();
    expect(status.map((p) => p.behind)).toEqual([0, 0]);
  });

  it('detects a gap from sequence numbers and repairs it from the origin', async () => {
    const net = new Network(['s1', 's2'], (_f, _t, op) => op.op.seq === 2);
    for (let i = 0; i < 3; i++) await net.write('s1', `m${i}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const replicator = net.replicators.get('s2')!;
    expect(replicator.stats.gapsDetected).toBeGreaterThanOrEqual(1);
    await replicator.catchUp();
    expect(net.logs.get('s2')!.highWaterMark('s1')).toBe(3);
  });

  it('repairs at once when an applied confirmation batch skips past what a peer holds', async () => {
    const net = new Network(['s1', 's2'], () => true); // no live publications at all
    const ops = [await net.write('s1', 'm1'), await net.write('s1', 'm2'), await net.write('s1', 'm3')];
    const s2 = net.replicators.get('s2')!;
    // Only the batch holding m3 reached s2 (the earlier one timed out): applied, then checked.
    await serveApply(net.logs.get('s2')!, 's2', { ops: [ops[2]!] });
    s2.noticeGaps([ops[2]!]);
    expect(s2.stats.gapsDetected).toBe(1);
    for (let i = 0; i < 100 && net.logs.get('s2')!.highWaterMark('s1') < 3; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(net.logs.get('s2')!.highWaterMark('s1')).toBe(3);
    // A contiguous batch is no gap.
    const next = await net.write('s1', 'm4');
    await serveApply(net.logs.get('s2')!, 's2', { ops: [next] });
    s2.noticeGaps([next]);
    expect(s2.stats.gapsDetected).toBe(1);
  });

  it('acknowledges after k peers confirm, and fails retryably when they cannot', async () => {
    const net = new Network(['s1', 's2', 's3'], () => true);
    const op = await net.write('s1', 'must reach a peer');
    expect(await net.replicators.get('s1')!.replicate([op], 2, 1000)).toHaveLength(2);
    expect(net.logs.get('s2')!.highWaterMark('s1')).toBe(1);

    net.logs.get('s2')!.failing = true;
    net.logs.get('s3')!.failing = true;
    const next = await net.write('s1', 'nobody can confirm');
    await expect(net.replicators.get('s1')!.replicate([next], 1, 1000)).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: true });
    net.down.add('s2');
    net.down.add('s3');
    await expect(net.replicators.get('s1')!.replicate([next], 1, 1000)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('gives a server that lost its store its own operations back at catch-up, never in anti-entropy rounds', async () => {
    const net = new Network(['s1', 's2'], () => false);
    for (let i = 0; i < 5; i++) await net.write('s1', `kept by s2 ${i}`);
    expect(net.logs.get('s2')!.highWaterMark('s1')).toBe(5);
    // s1 restarts on an empty store: catch-up must restore 1..5 before s1 issues seq 6.
    const emptied = new MemoryLog();
    const s2 = net.logs.get('s2')!;
    const transport: PeerTransport = {
      publish: () => undefined,
      fetch: async (_peer, request) => serveFetch(s2, request),
      digest: async (peer) => serveDigest(s2, peer),
      apply: async (peer, ops) => serveApply(s2, peer, { ops: ops as [Operation, ...Operation[]] }),
    };
    const reborn = new Replicator({ self: 's1', log: emptied, transport, peers: () => ['s2'], antiEntropyInterval: 5 });
    // Anti-entropy rounds leave a server's own operations alone: only catch-up may restore them.
    reborn.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await reborn.stop();
    expect(reborn.stats.syncRounds).toBeGreaterThan(0);
    expect(emptied.highWaterMark('s1')).toBe(0);
    expect(await reborn.catchUp()).toEqual([]);
    expect(emptied.highWaterMark('s1')).toBe(5);
    expect(emptied.digest()).toEqual(net.logs.get('s2')!.digest());
  });

  it('says what each live operation added and reports every sync, failed or not', async () => {
    const log = new MemoryLog();
    const source = new MemoryLog();
    await source.apply([publishOp('s2', 1), publishOp('s2', 2), publishOp('s2', 3)]);
    const reports: { peer: string; ok: boolean; fetched: number }[] = [];
    let reachable = false;
    const replicator = new Replicator({
      self: 's1',
      log,
      transport: {
        publish: () => undefined,
        fetch: async (_peer, request) => serveFetch(source, request),
        digest: async (peer) => {
          if (!reachable) throw new Error('unreachable');
          return serveDigest(source, peer);
        },
        apply: async (peer, ops) => serveApply(source, peer, { ops: ops as [Operation, ...Operation[]] }),
      },
      peers: () => ['s2'],
      onSync: ({ peer, ok, fetched }) => reports.push({ peer, ok, fetched }),
    });
    expect(await replicator.receive(source.opsFrom('s2', 1, 1)[0]!)).toBe(1);
    expect(await replicator.receive(source.opsFrom('s2', 1, 1)[0]!)).toBe(0); // a duplicate
    expect(await replicator.receive(publishOp('s1', 1))).toBe(0); // its own echo
    expect(await replicator.catchUp()).toEqual(['s2']);
    reachable = true;
    expect(await replicator.catchUp()).toEqual([]);
    expect(reports).toEqual([
      { peer: 's2', ok: false, fetched: 0 },
      { peer: 's2', ok: true, fetched: 2 },
    ]);
    expect(replicator.peers()).toEqual([expect.objectContaining({ peer: 's2', behind: 0, ahead: 0, hash: source.digest().hash })]);
  });

  it('never sends a fetch reply larger than half a MiB', async () => {
    const log = new MemoryLog();
    const big = 'x'.repeat(4000);
    await log.apply(Array.from({ length: 300 }, (_, i) => publishOp('s9', i + 1, big)));
    const reply = serveFetch(log, { origin: 's9', from_seq: 1 });
    expect(reply.ops.length).toBeGreaterThan(0);
    expect(reply.ops.length).toBeLessThan(300);
    expect(reply.ops.map((op) => op.op.seq)).toEqual(reply.ops.map((_, i) => i + 1));
    expect(reply.high).toBe(300);
  });
});
