import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '@correio/observability';
import { afterEach, describe, expect, it } from 'vitest';
import { TaskQueue } from '../src/tasks/TaskQueue.js';
import { TaskReplicator } from '../src/tasks/TaskReplicator.js';
import { TaskStore } from '../src/tasks/TaskStore.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

describe('TaskQueue announcements', () => {
  it('a change whose announcement throws (the publisher closed, its queue full) is still acknowledged, and nothing escapes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'correio-task-announce-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const store = new TaskStore({ path: dir });
    cleanup.push(() => store.close());
    const lines: string[] = [];
    const logger = createLogger('test', { level: 'warn', destination: new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }) });
    // A peer that stores every copy at once: leases then travel after the reply, where a throw
    // from the announcement was an unhandled rejection (the end of the process).
    const replicator = new TaskReplicator({ peers: () => ['s2'], send: async () => undefined, replicas: 2, lazyMs: 1, logger });
    let announced = 0;
    const queue = new TaskQueue({
      store,
      replicator,
      logger,
      announce: () => {
        announced += 1;
        throw new Error('the pub socket is closed');
      },
    });
    queue.start();
    cleanup.push(() => queue.stop());
    const { job } = await queue.enqueue({ queue: 'q', task: 't' });
    const leased = await queue.lease('w1', ['q'], 1, 0, new AbortController().signal);
    expect(leased.map((lease) => lease.id)).toEqual([job.id]);
    // The lease's copy and its announcement run after the reply: give them their turn.
    for (let i = 0; i < 100 && announced < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(announced).toBeGreaterThanOrEqual(2);
    expect(lines.filter((line) => line.includes('could not be announced')).length).toBeGreaterThanOrEqual(2);
  });
});
