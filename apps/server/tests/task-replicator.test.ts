// The task replicator on its own, with a fake transport: a change waits for `replicas − 1` peers
// only (the first by id, the next standing in for one that fails), the other peers get it lazily,
// a lazy copy rides along with the next urgent one (only a job's newer version travelling), and a
// change fails as UNAVAILABLE when too few peers can store it.
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TaskJob, TaskSchedule } from '@correio/protocol';
import { newJob } from '../src/tasks/jobStates.js';
import { TaskReplicator } from '../src/tasks/TaskReplicator.js';

interface Sent {
  readonly peer: string;
  readonly jobs: Array<{ id: string; version: number }>;
}

function job(id: string, version = 1): TaskJob {
  return { ...newJob({ queue: 'q', task: 't', args: null }, id, 1_000), version };
}

/** A replicator over `peers` whose sends are recorded and answered by `answer` (default: stored). */
function harness(peers: string[], options: { replicas?: number; answer?: (peer: string) => Promise<void> } = {}) {
  const sent: Sent[] = [];
  const replicator = new TaskReplicator({
    peers: () => peers,
    send: async (peer: string, jobs: TaskJob[], _schedules: TaskSchedule[]) => {
      sent.push({ peer, jobs: jobs.map(({ id, version }) => ({ id, version })) });
      await (options.answer ?? (() => Promise.resolve()))(peer);
    },
    lazyMs: 50,
    logger: pino({ level: 'silent' }),
    ...(options.replicas === undefined ? {} : { replicas: options.replicas }),
  });
  return { replicator, sent };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('TaskReplicator', () => {
  it('resolves once the first replicas − 1 peers by id hold the change; the others get it lazily', async () => {
    vi.useFakeTimers();
    const { replicator, sent } = harness(['s3', 's1', 's2'], { replicas: 2 });
    await replicator.copy([job('a')]);
    expect(sent).toEqual([{ peer: 's1', jobs: [{ id: 'a', version: 1 }] }]);
    await vi.advanceTimersByTimeAsync(50);
    expect(sent.map(({ peer }) => peer).sort()).toEqual(['s1', 's2', 's3']);
    replicator.clear();
  });

  it('sends a lazy copy with the next urgent one, only the newer version of a job', async () => {
    vi.useFakeTimers();
    const { replicator, sent } = harness(['s1', 's2'], { replicas: 2 });
    const lease = replicator.copy([job('a', 2)], [], 'lazy');
    expect(sent).toEqual([]);
    await replicator.copy([job('a', 3), job('b', 1)]);
    await lease;
    expect(sent).toEqual([{ peer: 's1', jobs: [{ id: 'a', version: 3 }, { id: 'b', version: 1 }] }]);
    await vi.advanceTimersByTimeAsync(50);
    expect(sent.filter(({ peer }) => peer === 's2')).toEqual([{ peer: 's2', jobs: [{ id: 'a', version: 3 }, { id: 'b', version: 1 }] }]);
    replicator.clear();
  });

  it('a lazy copy alone leaves after lazyMs', async () => {
    vi.useFakeTimers();
    const { replicator, sent } = harness(['s1'], { replicas: 2 });
    let copied = false;
    void replicator.copy([job('a', 2)], [], 'lazy').then(() => (copied = true));
    await vi.advanceTimersByTimeAsync(49);
    expect(copied).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(copied).toBe(true);
    expect(sent).toEqual([{ peer: 's1', jobs: [{ id: 'a', version: 2 }] }]);
  });

  it('the next peer stands in at once for a replica that fails', async () => {
    const { replicator, sent } = harness(['s1', 's2', 's3'], { replicas: 2, answer: (peer) => (peer === 's1' ? Promise.reject(new Error('down')) : Promise.resolve()) });
    await replicator.copy([job('a')]);
    expect(sent.slice(0, 2).map(({ peer }) => peer)).toEqual(['s1', 's2']);
    replicator.clear();
  });

  it('keeps up to 4 batches in flight per peer, and completes copies in the order they were made', async () => {
    const replies: Array<() => void> = [];
    const { replicator, sent } = harness(['s1'], { replicas: 2, answer: () => new Promise<void>((resolve) => replies.push(resolve)) });
    const order: string[] = [];
    const copies = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => replicator.copy([job(id)]).then(() => order.push(id)));
    // Four leave at once, one each; the other two wait for a reply, then leave together.
    expect(sent.map(({ jobs }) => jobs.map(({ id }) => id))).toEqual([['a'], ['b'], ['c'], ['d']]);
    replies[3]!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent.map(({ jobs }) => jobs.map(({ id }) => id))).toEqual([['a'], ['b'], ['c'], ['d'], ['e', 'f']]);
    expect(order).toEqual([]);
    for (const reply of [replies[4]!, replies[1]!, replies[0]!, replies[2]!]) reply();
    await Promise.all(copies);
    expect(order).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });

  it('fails as UNAVAILABLE when too few peers can store the change', async () => {
    const { replicator } = harness(['s1', 's2'], { replicas: 3, answer: (peer) => (peer === 's2' ? Promise.reject(new Error('down')) : Promise.resolve()) });
    await expect(replicator.copy([job('a')])).rejects.toMatchObject({ code: 'UNAVAILABLE', data: { reason: 'replication', stored: 1, need: 2 } });
  });

  it('with replicas 1 (or no peers) resolves at once and still copies lazily', async () => {
    vi.useFakeTimers();
    const { replicator, sent } = harness(['s1'], { replicas: 1 });
    await replicator.copy([job('a')]);
    expect(sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(50);
    expect(sent).toEqual([{ peer: 's1', jobs: [{ id: 'a', version: 1 }] }]);
    await harness([]).replicator.copy([job('b')]);
  });
});
