import { UnavailableError } from '@correio/codec';
import type { Operation } from '@correio/protocol';
import { Replicator, serveApply, serveDigest, serveFetch, type PeerTransport } from '@correio/replication';
import { waitFor } from '@correio/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryLog, publishOp } from './support/MemoryLog.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

describe('Replicator: peer-keyed state follows the view', () => {
  it('keeps no status for origins only a publication named, and drops servers that left the view at the next anti-entropy round', async () => {
    const peerLogs = new Map(['a', 'b', 'c'].map((id) => [id, new MemoryLog()]));
    const reach = (peer: string): MemoryLog => {
      const log = peerLogs.get(peer);
      if (log === undefined) throw new UnavailableError(`${peer} is not a server`);
      return log;
    };
    const transport: PeerTransport = {
      publish: () => undefined,
      digest: async (peer) => serveDigest(reach(peer), peer),
      fetch: async (_peer, request) => serveFetch(reach(_peer), request),
      apply: async (peer, ops) => serveApply(reach(peer), peer, { ops: ops as [Operation, ...Operation[]] }),
    };
    let view = ['a', 'b', 'c'];
    const replicator = new Replicator({ self: 'self', log: new MemoryLog(), transport, peers: () => view, antiEntropyInterval: 20, requestTimeout: 500 });
    stops.push(() => replicator.stop());

    await replicator.catchUp();
    await replicator.replicate([publishOp('self', 1)], 3, 2000);
    // Publications naming origins that are no servers: each starts a repair from that origin, which fails and is not remembered.
    for (let i = 0; i < 5; i++) {
      const failures = replicator.stats.syncFailures;
      await replicator.receive(publishOp(`ghost-${i}`, 2));
      await waitFor(() => replicator.stats.syncFailures > failures, `the repair from ghost-${i} tried`);
    }
    expect(replicator.tracked).toEqual({ statuses: 3, appliers: 3 });

    view = ['a'];
    replicator.start();
    await waitFor(() => replicator.tracked.statuses <= 1 && replicator.tracked.appliers <= 1, 'the departed servers and ghost origins forgotten');
    expect(replicator.peers().map((status) => status.peer)).toEqual(['a']);

    // A server that comes back starts afresh, and is served as before.
    view = ['a', 'b'];
    await replicator.replicate([publishOp('self', 2)], 2, 2000);
    expect(peerLogs.get('b')!.highWaterMark('self')).toBe(2);
  });
});
