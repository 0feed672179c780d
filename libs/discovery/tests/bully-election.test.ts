import { describe, expect, it } from 'vitest';
import { BullyElection, MAX_ADOPTED_TERM, type BullyElectionOptions, type ElectionOutput, type ElectionPeer } from '@correio/discovery';

const E = 100; // election timeout used throughout

function machine(server: string, rank: number, options: Partial<BullyElectionOptions> = {}): BullyElection {
  return new BullyElection({ self: { server, rank }, electionTimeoutMs: E, ...options });
}

function peers(...list: [string, number, boolean?][]): ElectionPeer[] {
  return list.map(([server, rank, alive]) => ({ server, rank, alive: alive ?? true }));
}

const asks = (out: ElectionOutput[]) => out.filter((o) => o.kind === 'ask');
const announces = (out: ElectionOutput[]) => out.flatMap((o) => (o.kind === 'announce' ? [o.announcement] : []));
const changes = (out: ElectionOutput[]) => out.flatMap((o) => (o.kind === 'changed' ? [o.state] : []));

describe('BullyElection: elections', () => {
  it('a server alone wins at once with term 1 and announces itself', () => {
    const m = machine('a', 1);
    const out = m.start(0);
    expect(announces(out)).toEqual([{ server: 'a', rank: 1, term: 1 }]);
    expect(changes(out)).toEqual([{ role: 'coordinator', acting: true, term: 1, coordinator: { server: 'a', rank: 1, term: 1 } }]);
    expect(m.isActing(0)).toBe(true);
  });

  it('the highest-ranked live server wins without asking anyone', () => {
    const m = machine('c', 3);
    m.setPeers(peers(['a', 1], ['b', 2]), 0);
    const out = m.start(0);
    expect(asks(out)).toEqual([]);
    expect(announces(out)).toEqual([{ server: 'c', rank: 3, term: 1 }]);
  });

  it('a lower server asks only the live higher-ranked ones, with term = highest seen + 1', () => {
    const m = machine('a', 1, { initialTerm: 4 });
    m.setPeers(peers(['b', 2], ['c', 3, false], ['d', 4]), 0);
    const out = m.start(0);
    expect(asks(out).map((o) => (o.kind === 'ask' ? [o.to, o.term, o.request] : []))).toEqual([
      ['b', 5, { server: 'a', rank: 1, term: 5 }],
      ['d', 5, { server: 'a', rank: 1, term: 5 }],
    ]);
    expect(m.state(0).role).toBe('candidate');
    expect(m.isActing(0)).toBe(false);
  });

  it('an ok answer makes the candidate wait for the announcement, which it then follows', () => {
    const m = machine('a', 1);
    m.setPeers(peers(['b', 2]), 0);
    m.start(0);
    expect(m.onAnswer(1, 'b', { ok: true }, 10)).toEqual([]);
    expect(m.nextTimeout(10)).toBe(10 + 2 * E); // coordinatorWaitMs
    const out = m.onAnnouncement({ server: 'b', rank: 2, term: 2 }, 20);
    expect(changes(out)).toEqual([{ role: 'follower', acting: false, term: 2, coordinator: { server: 'b', rank: 2, term: 2 } }]);
    expect(m.tick(300)).toEqual([]); // nothing to do while b is alive (silence would start at 20 + 3E + E)
  });

  it('wins when every higher server fails or refuses, or when the election times out', () => {
    const failed = machine('a', 1);
    failed.setPeers(peers(['b', 2], ['c', 3]), 0);
    failed.start(0);
    expect(failed.onAnswer(1, 'b', 'failed', 5)).toEqual([]);
    expect(announces(failed.onAnswer(1, 'c', { ok: false }, 6))).toEqual([{ server: 'a', rank: 1, term: 1 }]);

    const timedOut = machine('a', 1);
    timedOut.setPeers(peers(['b', 2]), 0);
    timedOut.start(0);
    expect(timedOut.nextTimeout(0)).toBe(E);
    expect(timedOut.tick(E - 1)).toEqual([]);
    expect(announces(timedOut.tick(E))).toEqual([{ server: 'a', rank: 1, term: 1 }]);
  });

  it('ignores answers to an older election', () => {
    const m = machine('a', 1);
    m.setPeers(peers(['b', 2]), 0);
    m.start(0);
    m.tick(E); // wins term 1
    expect(m.onAnswer(1, 'b', { ok: true }, E + 1)).toEqual([]);
    expect(m.state(E + 1).role).toBe('coordinator');
  });

  it('starts again with a higher term when the server that took over never announces', () => {
    const m = machine('a', 1);
    m.setPeers(peers(['b', 2]), 0);
    m.start(0);
    m.onAnswer(1, 'b', { ok: true }, 10);
    const out = m.tick(10 + 2 * E);
    expect(asks(out).map((o) => o.kind === 'ask' && o.term)).toEqual([2]);
  });

  it('a higher server that dies during the election counts as a refusal', () => {
    const m = machine('a', 1);
    m.setPeers(peers(['b', 2]), 0);
    m.start(0);
    const out = m.setPeers(peers(['b', 2, false]), 5);
    expect(announces(out)).toEqual([{ server: 'a', rank: 1, term: 1 }]);
  });
});

describe('BullyElection: answering candidates', () => {
  it('answers ok to a lower candidate and takes the election over', () => {
    const m = machine('b', 2);
    m.setPeers(peers(['a', 1], ['c', 3]), 0);
    m.start(0); // asks c
    m.onAnnouncement({ server: 'c', rank: 3, term: 1 }, 1);
    const { reply, outputs } = m.onRequest({ server: 'a', rank: 1, term: 2 }, 2);
    expect(reply).toEqual({ server: 'b', rank: 2, ok: true });
    expect(asks(outputs).map((o) => o.kind === 'ask' && [o.to, o.term])).toEqual([['c', 3]]);
  });

  it('answers not ok to a higher candidate', () => {
    const m = machine('b', 2);
    m.start(0);
    const { reply, outputs } = m.onRequest({ server: 'c', rank: 3, term: 7 }, 1);
    expect(reply.ok).toBe(false);
    expect(asks(outputs)).toEqual([]);
    expect(m.state(1).term).toBe(7);
  });

  it('a coordinator asked by a lower candidate re-wins with a higher term at once', () => {
    const m = machine('c', 3);
    m.setPeers(peers(['a', 1], ['b', 2]), 0);
    m.start(0); // term 1
    const { reply, outputs } = m.onRequest({ server: 'a', rank: 1, term: 2 }, 5);
    expect(reply.ok).toBe(true);
    expect(announces(outputs)).toEqual([{ server: 'c', rank: 3, term: 3 }]);
    expect(m.isActing(5)).toBe(true);
  });

  it('a coordinator asked by a candidate at its own term just re-announces (concurrent candidates after one failure)', () => {
    const m = machine('b', 2);
    m.setPeers(peers(['a', 1], ['c', 3, false]), 0);
    m.start(0); // b wins term 1 (c is down)
    const { reply, outputs } = m.onRequest({ server: 'a', rank: 1, term: 1 }, 5);
    expect(reply.ok).toBe(true);
    expect(announces(outputs)).toEqual([{ server: 'b', rank: 2, term: 1 }]);
  });

  it('a coordinator asked by a candidate behind its term just re-announces', () => {
    const m = machine('c', 3, { initialTerm: 9 });
    m.start(0); // term 10
    const { reply, outputs } = m.onRequest({ server: 'a', rank: 1, term: 4 }, 5);
    expect(reply.ok).toBe(true);
    expect(announces(outputs)).toEqual([{ server: 'c', rank: 3, term: 10 }]);
  });

  it('answers not ok before it started or without a lease', () => {
    const fresh = machine('b', 2);
    expect(fresh.onRequest({ server: 'a', rank: 1, term: 1 }, 0).reply.ok).toBe(false);
    const unleased = machine('b', 2, { leaseMs: 50 });
    unleased.start(0);
    expect(unleased.onRequest({ server: 'a', rank: 1, term: 1 }, 0).reply.ok).toBe(false);
  });
});

describe('BullyElection: announcements and terms', () => {
  it('ignores announcements below the highest term seen, and the coordinator answers with its own', () => {
    const m = machine('c', 3, { initialTerm: 5 });
    m.start(0); // term 6
    const out = m.onAnnouncement({ server: 'b', rank: 2, term: 3 }, 1);
    expect(announces(out)).toEqual([{ server: 'c', rank: 3, term: 6 }]);
    expect(m.state(1).coordinator?.server).toBe('c');
  });

  it('between equal terms the higher rank wins', () => {
    const low = machine('a', 1);
    low.setPeers(peers(['b', 2, false]), 0);
    low.start(0); // a wins term 1 (b looks dead)
    low.setPeers(peers(['b', 2]), 1);
    const out = low.onAnnouncement({ server: 'b', rank: 2, term: 1 }, 2);
    expect(changes(out).at(-1)).toMatchObject({ role: 'follower', acting: false, coordinator: { server: 'b', term: 1 } });

    const high = machine('b', 2);
    high.start(0); // b wins term 1
    const ignored = high.onAnnouncement({ server: 'a', rank: 1, term: 1 }, 2);
    expect(announces(ignored)).toEqual([{ server: 'b', rank: 2, term: 1 }]);
    expect(high.isActing(2)).toBe(true);
  });

  it('a coordinator that sees a higher term steps down at once, then bullies back when it outranks the winner', () => {
    const m = machine('c', 3);
    m.setPeers(peers(['a', 1], ['b', 2]), 0);
    m.start(0);
    const out = m.onAnnouncement({ server: 'b', rank: 2, term: 5 }, 10);
    // It stopped acting (the step down) and immediately won term 6 again as the highest live server.
    expect(announces(out)).toEqual([{ server: 'c', rank: 3, term: 6 }]);
    expect(m.state(10)).toMatchObject({ role: 'coordinator', term: 6 });
  });

  it('a coordinator that sees a higher term from a higher server stays a follower', () => {
    const m = machine('b', 2);
    m.setPeers(peers(['c', 3, false]), 0);
    m.start(0); // b wins term 1
    m.setPeers(peers(['c', 3]), 5);
    const out = m.onAnnouncement({ server: 'c', rank: 3, term: 2 }, 10);
    expect(announces(out)).toEqual([]);
    expect(changes(out)).toEqual([{ role: 'follower', acting: false, term: 2, coordinator: { server: 'c', rank: 3, term: 2 } }]);
  });

  it('moves past the term of its own previous run', () => {
    const m = machine('c', 3);
    m.onAnnouncement({ server: 'c', rank: 3, term: 8 }, 0); // an echo of a run before a restart
    expect(announces(m.start(1))).toEqual([{ server: 'c', rank: 3, term: 9 }]);
  });

  it('a coordinator re-announces itself every announce interval', () => {
    const m = machine('a', 1, { announceIntervalMs: 300 });
    m.start(0);
    expect(m.nextTimeout(0)).toBe(300);
    expect(m.tick(299)).toEqual([]);
    expect(announces(m.tick(300))).toEqual([{ server: 'a', rank: 1, term: 1 }]);
    expect(m.nextTimeout(300)).toBe(600);
  });
});

describe('BullyElection: failure detection', () => {
  it('runs an election when the membership view says the coordinator is down', () => {
    const m = machine('a', 1);
    m.setPeers(peers(['b', 2], ['c', 3]), 0);
    m.start(0);
    m.onAnnouncement({ server: 'c', rank: 3, term: 1 }, 1);
    expect(m.tick(E * 2)).toEqual([]);
    const out = m.setPeers(peers(['b', 2], ['c', 3, false]), E * 3);
    expect(asks(out).map((o) => o.kind === 'ask' && [o.to, o.term])).toEqual([['b', 2]]);
  });

  it('runs an election when the coordinator has been silent for silenceMs', () => {
    const m = machine('a', 1, { announceIntervalMs: 100, silenceMs: 350 });
    m.setPeers(peers(['b', 2]), 0);
    m.start(0);
    m.onAnnouncement({ server: 'b', rank: 2, term: 1 }, 10);
    expect(m.nextTimeout(10)).toBe(360);
    m.onAnnouncement({ server: 'b', rank: 2, term: 1 }, 110); // the periodic re-announcement
    expect(m.tick(400)).toEqual([]);
    expect(asks(m.tick(460)).map((o) => o.kind === 'ask' && o.to)).toEqual(['b']);
  });

  it('a server that outranks the coordinator takes over (a higher server joined)', () => {
    const m = machine('d', 4);
    m.setPeers(peers(['c', 3]), 0);
    m.onAnnouncement({ server: 'c', rank: 3, term: 3 }, 0);
    expect(announces(m.start(1))).toEqual([{ server: 'd', rank: 4, term: 4 }]);
  });

  it('follows a coordinator the view calls down while it keeps announcing, and takes over once it stops', () => {
    const m = machine('a', 1); // announce interval E, so "alive by announcement" lasts 2E after each one
    m.setPeers(peers(['b', 2, false]), 0);
    m.start(0); // wins term 1: b looks dead
    // b announces a higher term: a follows it, though its view still says b is down.
    expect(announces(m.onAnnouncement({ server: 'b', rank: 2, term: 2 }, 10))).toEqual([]);
    expect(m.tick(E)).toEqual([]);
    m.onAnnouncement({ server: 'b', rank: 2, term: 2 }, 110); // the periodic re-announcement
    expect(m.tick(250)).toEqual([]);
    expect(m.nextTimeout(250)).toBe(110 + 2 * E);
    // b went quiet and the view says down: a takes over at once, without asking b.
    const out = m.tick(110 + 2 * E);
    expect(asks(out)).toEqual([]);
    expect(announces(out)).toEqual([{ server: 'a', rank: 1, term: 3 }]);
  });

  it('a view that regresses to an older "down" does not make a follower usurp a coordinator that still announces', () => {
    const m = machine('d', 4);
    m.setPeers(peers(['e', 5], ['c', 3]), 0);
    m.start(0);
    m.onAnswer(1, 'e', { ok: true }, 5);
    m.onAnnouncement({ server: 'e', rank: 5, term: 2 }, 10);
    // Membership updates arrive out of order: "e up" (no change), then a stale "e down".
    m.setPeers(peers(['e', 5], ['c', 3]), 50);
    m.setPeers(peers(['e', 5, false], ['c', 3]), 60); // d believes it and takes over, for now
    // e announces again after the stale "down": d follows it, and a lower server's request must not make d win.
    m.onAnnouncement({ server: 'e', rank: 5, term: 3 }, 80);
    const { reply, outputs } = m.onRequest({ server: 'c', rank: 3, term: 4 }, 90);
    expect(reply.ok).toBe(true);
    expect(asks(outputs).map((o) => o.kind === 'ask' && o.to)).toEqual(['e']);
    expect(announces(outputs)).toEqual([]);
    expect(m.isActing(90)).toBe(false);
    // Without a word from e since the view marked it down, the same request does make d win.
    const fresh = machine('d', 4);
    fresh.setPeers(peers(['e', 5], ['c', 3]), 0);
    fresh.start(0);
    fresh.onAnnouncement({ server: 'e', rank: 5, term: 2 }, 10);
    fresh.setPeers(peers(['e', 5, false], ['c', 3]), 60);
    expect(announces(fresh.onRequest({ server: 'c', rank: 3, term: 9 }, 90).outputs).map((a) => a.server)).toContain('d');
  });
});

describe('BullyElection: leases', () => {
  const L = 300;

  it('acts only while the lease holds, counted from when the acknowledged heartbeat was sent', () => {
    const m = machine('a', 1, { leaseMs: L });
    expect(m.start(0)).toEqual([]); // no lease: no election
    m.renewLease(0, 20); // wins at 20
    expect(m.isActing(20)).toBe(true);
    expect(m.nextTimeout(20)).toBe(20 + E); // the re-announcement comes before the lease's end
    m.tick(20 + E);
    expect(m.nextTimeout(20 + E)).toBe(20 + 2 * E);
    m.renewLease(100, 150);
    expect(m.isActing(399)).toBe(true);
    expect(m.isActing(400)).toBe(false);
  });

  it('a coordinator whose lease lapses steps down, and no election runs until it is renewed', () => {
    const m = machine('a', 1, { leaseMs: L, announceIntervalMs: 1000 });
    m.renewLease(0, 0);
    m.start(0);
    expect(m.nextTimeout(1)).toBe(L);
    const out = m.tick(L);
    expect(changes(out)).toEqual([{ role: 'follower', acting: false, term: 1, coordinator: undefined }]);
    expect(m.nextTimeout(L)).toBeUndefined();
    expect(m.tick(L + 5000)).toEqual([]);
    const back = m.renewLease(L + 5000, L + 5001);
    expect(announces(back)).toEqual([{ server: 'a', rank: 1, term: 2 }]);
  });

  it('a lapse is reported even when the renewal arrives before the lapse was ticked (a late timer)', () => {
    const m = machine('a', 1, { leaseMs: L, announceIntervalMs: 1000 });
    m.renewLease(0, 0);
    m.start(0);
    expect(m.isActing(L - 1)).toBe(true);
    // No tick at L: the next input is a renewal (of a heartbeat sent before the lapse) at L + 20.
    const late = m.renewLease(L - 10, L + 20);
    expect(changes(late)[0]).toEqual({ role: 'follower', acting: false, term: 1, coordinator: undefined });
  });

  it('a candidate whose lease lapses gives up instead of winning', () => {
    const m = machine('a', 1, { leaseMs: 50 });
    m.setPeers(peers(['b', 2]), 0);
    m.renewLease(0, 0);
    m.start(0);
    const out = m.tick(E);
    expect(announces(out)).toEqual([]);
    expect(m.state(E).role).toBe('follower');
  });

  it('revoking the lease (the reference server forgot us) stops acting at once', () => {
    const m = machine('a', 1, { leaseMs: L });
    m.renewLease(0, 0);
    m.start(0);
    const out = m.revokeLease(10);
    expect(changes(out)).toEqual([{ role: 'follower', acting: false, term: 1, coordinator: undefined }]);
  });

  it('a paused coordinator does not act when it resumes after its lease ran out', () => {
    const m = machine('c', 3, { leaseMs: L });
    m.renewLease(0, 0);
    m.start(0);
    // Frozen from t=10 to t=5000 (SIGSTOP): the first thing it can be asked on resumption is whether to act.
    expect(m.isActing(5000)).toBe(false);
    // Its queued input then shows a successor with a higher term.
    m.onAnnouncement({ server: 'b', rank: 2, term: 2 }, 5000);
    expect(m.isActing(5000)).toBe(false);
  });
});

describe('BullyElection: bounded memory', () => {
  it('announcements from thousands of servers outside the view are remembered up to a bound, and forgotten with the next view', () => {
    const m = machine('a', 1);
    m.setPeers(peers(['b', 2], ['c', 3, false]), 0);
    m.start(0);
    for (let i = 0; i < 10_000; i++) m.onAnnouncement({ server: `stranger-${i}`, rank: 1, term: 0 }, 1);
    expect(m.remembered).toBeLessThanOrEqual(2 + 4096 + 1);
    m.onAnnouncement({ server: 'b', rank: 2, term: 0 }, 2);
    m.setPeers(peers(['b', 2], ['c', 3, false]), 3);
    // The view's two peers, b's announcement, c's down mark.
    expect(m.remembered).toBe(4);
  });
});

describe('BullyElection: terms a peer pushes', () => {
  it('adopts no term above MAX_ADOPTED_TERM, so an election can always start', () => {
    const m = machine('a', 1);
    m.setPeers(peers(['b', 2]), 0);
    m.start(0);
    const ignored = m.onAnnouncement({ server: 'b', rank: 2, term: Number.MAX_SAFE_INTEGER }, 1);
    expect(changes(ignored)).toEqual([]);
    expect(m.state(1).term).toBeLessThanOrEqual(1);
    m.onRequest({ server: 'x', rank: 1, term: Number.MAX_SAFE_INTEGER }, 2);
    expect(m.state(2).term).toBe(MAX_ADOPTED_TERM);
    const out = m.tick(10_000); // b never answers: a new election, with a term that is still a term
    const terms = asks(out).map((o) => (o.kind === 'ask' ? o.term : 0));
    for (const term of [...terms, m.state(10_000).term]) expect(Number.isSafeInteger(term) && term <= Number.MAX_SAFE_INTEGER).toBe(true);
  });
});
