// How confirmations are batched per peer: a write pushed while nothing is in flight leaves before
// replicate() returns; writes pushed meanwhile share the next batches, at most `applyPipeline` in
// flight, each batch one replica.apply.request.
import { describe, expect, it } from 'vitest';
import type { Operation } from '@correio/protocol';
import { Replicator, type PeerTransport, type ReplicaLog } from '@correio/replication';

function op(seq: number): Operation {
  return { op: { origin: 's1', seq }, lc: seq, hlc: [1_700_000_000_000 + seq, 0], kind: 'login', data: { user: `u${seq}` } };
}

/** A transport whose applies stay pending until the test settles them, recording each batch. */
function pendingTransport() {
  const batches: Array<{ peer: string; seqs: number[]; settle: () => void }> = [];
  const transport: PeerTransport = {
    publish: () => undefined,
    fetch: () => Promise.reject(new Error('not used')),
    digest: () => Promise.reject(new Error('not used')),
    apply: (peer, ops) => new Promise((resolve) => batches.push({ peer, seqs: ops.map((o) => o.op.seq), settle: () => resolve({ server: peer, applied: ops.length }) })),
  };
  return { transport, batches };
}

const log: ReplicaLog = { highWaterMark: () => 0, opsFrom: () => [], digest: () => ({ hwm: {}, hash: '', ops: 0 }), apply: () => Promise.resolve(0) };

describe('confirmation batches', () => {
  it('sends a write at once when idle, and batches the writes made while it is in flight', async () => {
    const { transport, batches } = pendingTransport();
    const replicator = new Replicator({ self: 's1', log, transport, peers: () => ['s2'], applyPipeline: 1 });
    const first = replicator.replicate([op(1)], 1, 5_000);
    expect(batches.map((batch) => batch.seqs)).toEqual([[1]]); // before any turn of the event loop
    const rest = [2, 3, 4].map((seq) => replicator.replicate([op(seq)], 1, 5_000));
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toHaveLength(1); // one in flight at most
    batches[0]!.settle();
    expect(await first).toEqual(['s2']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches.map((batch) => batch.seqs)).toEqual([[1], [2, 3, 4]]);
    batches[1]!.settle();
    expect(await Promise.all(rest)).toEqual([['s2'], ['s2'], ['s2']]);
  });

  it('pipelines up to applyPipeline batches per peer', async () => {
    const { transport, batches } = pendingTransport();
    const replicator = new Replicator({ self: 's1', log, transport, peers: () => ['s2', 's3'], applyPipeline: 2 });
    const writes = [1, 2, 3, 4, 5].map((seq) => replicator.replicate([op(seq)], 2, 5_000));
    await new Promise((resolve) => setImmediate(resolve));
    // Per peer: the first write alone (idle), then the rest in one batch beside it.
    for (const peer of ['s2', 's3']) expect(batches.filter((batch) => batch.peer === peer).map((batch) => batch.seqs)).toEqual([[1], [2, 3, 4, 5]]);
    for (const batch of batches) batch.settle();
    expect((await Promise.all(writes)).every((confirmed) => confirmed.length === 2)).toBe(true);
  });
});
