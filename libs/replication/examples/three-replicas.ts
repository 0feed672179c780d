// Three replicas of an operation log, wired in memory: live push, gap repair, k-peer acknowledgement, catch-up.
// Run from the repository root: npx tsx --conditions=@correio/source libs/replication/examples/three-replicas.ts
import { createHash } from 'node:crypto';
import { encode } from '@correio/codec';
import type { Operation } from '@correio/protocol';
import { Replicator, serveApply, serveDigest, serveFetch, type LogDigest, type PeerTransport, type ReplicaLog } from '@correio/replication';

/** The log is the application's (a server's LMDB store); applying must be idempotent and order-independent. */
class MemoryLog implements ReplicaLog {
  readonly #ops = new Map<string, Map<number, Operation>>();
  highWaterMark(origin: string): number {
    let hwm = 0;
    while (this.#ops.get(origin)?.has(hwm + 1)) hwm++;
    return hwm;
  }
  opsFrom(origin: string, from: number, limit: number, to = Number.MAX_SAFE_INTEGER): Operation[] {
    const held = this.#ops.get(origin);
    const ops: Operation[] = [];
    for (let seq = from; seq <= to && ops.length < limit && held?.has(seq); seq++) ops.push(held.get(seq)!);
    return ops;
  }
  async apply(ops: readonly Operation[]): Promise<number> {
    let added = 0;
    for (const op of ops) {
      const held = this.#ops.get(op.op.origin) ?? new Map<number, Operation>();
      this.#ops.set(op.op.origin, held);
      if (held.has(op.op.seq)) continue;
      held.set(op.op.seq, op);
      added++;
    }
    return added; // a real store resolves once the operations are durable
  }
  digest(): LogDigest {
    const hwm: Record<string, number> = {};
    const hash = Buffer.alloc(32); // XOR of the operations' hashes: independent of arrival order
    let ops = 0;
    for (const [origin, held] of this.#ops) {
      hwm[origin] = this.highWaterMark(origin);
      for (const op of held.values()) {
        const opHash = createHash('sha256').update(encode(op)).digest();
        for (let i = 0; i < hash.length; i++) hash[i]! ^= opHash[i]!;
        ops++;
      }
    }
    return { hwm, hash: hash.toString('hex').slice(0, 12), ops };
  }
}

// Servers reach each other through a PeerTransport: brokerTransport(client, publisher) in a real server;
// here, direct calls to the peer's handlers, with live publications to `deaf` servers lost.
const servers = new Map<string, { log: MemoryLog; replicator: Replicator }>();
const deaf = new Set<string>();
const inMemory = (self: string): PeerTransport => ({
  publish: (op) => {
    for (const [id, peer] of servers) if (id !== self && !deaf.has(id)) void peer.replicator.receive(op);
  },
  fetch: async (peer, request) => serveFetch(servers.get(peer)!.log, request),
  digest: async (peer) => serveDigest(servers.get(peer)!.log, peer),
  apply: async (peer, ops) => serveApply(servers.get(peer)!.log, peer, { ops: ops as [Operation, ...Operation[]] }),
});
const join = (id: string) => {
  const log = new MemoryLog();
  const replicator = new Replicator({ self: id, log, transport: inMemory(id), peers: () => [...servers.keys()].filter((peer) => peer !== id) });
  servers.set(id, { log, replicator });
  return { log, replicator };
};
const a = join('a');
join('b');
const c = join('c');

// a commits operations (durably, in its own log first), then publishes each one.
const commit = async (seq: number, text: string) => {
  const op: Operation = { op: { origin: 'a', seq }, lc: seq, hlc: [1_735_689_600_000 + seq, 0], kind: 'publish', data: { user: 'ana', channel: 'general', text } };
  await a.log.apply([op]);
  a.replicator.publish(op);
  return op;
};
deaf.add('c');
await commit(1, 'one');
await commit(2, 'two');
deaf.delete('c');
await commit(3, 'three'); // c sees seq 3 after 0: a gap, repaired by fetching 1..2 from the origin
for (let waited = 0; waited < 5000 && c.log.highWaterMark('a') < 3; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
const hwms = () => [...servers].map(([id, { log }]) => `${id}:${log.highWaterMark('a')}`).join(' ');
console.log('after a gap on c:', hwms(), `(c fetched ${c.replicator.stats.fetched})`);

// Acknowledge a write once 2 peers hold it durably (the server's --ack-peers 2).
const confirmed = await a.replicator.replicate([await commit(4, 'four')], 2, 1000);
console.log('op 4 confirmed by', confirmed.sort().join(', '), '→', hwms());

// A new, empty server catches up with every live peer before it serves.
const d = join('d');
await d.replicator.catchUp();
console.log('d after catch-up:', hwms());
console.log('digests:', [...servers].map(([id, { log }]) => `${id}=${log.digest().hash}`).join(' '));
