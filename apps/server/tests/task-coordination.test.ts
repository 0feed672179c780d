import { describe, expect, it } from 'vitest';
import { createLogger } from '@correio/observability';
import { Writable } from 'node:stream';
import { TaskCoordination } from '../src/tasks/TaskCoordination.js';
import type { TaskQueue } from '../src/tasks/TaskQueue.js';
import type { TaskStore } from '../src/tasks/TaskStore.js';

describe('TaskCoordination', () => {
  it('logs a sweep whose store transaction fails and sweeps again, instead of ending the process', async () => {
    const lines: string[] = [];
    const logger = createLogger('test', { level: 'warn', destination: new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }) });
    let attempts = 0;
    const store = {
      transaction: async () => {
        attempts += 1;
        throw new Error('MDB_DISKFULL: the disk is full');
      },
    } as unknown as TaskStore;
    const coordination = new TaskCoordination({
      store,
      queue: { running: false } as unknown as TaskQueue,
      isCoordinator: () => false,
      peers: () => [],
      listPeer: async () => ({ jobs: [] }),
      peerSchedules: async () => [],
      serve: async () => undefined,
      logger,
      sweepMs: 10,
    });
    coordination.start();
    try {
      // An unhandled rejection would fail this test run (and, in a server, end the process).
      for (let i = 0; i < 100 && attempts < 3; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      await coordination.stop();
    }
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(lines.some((line) => line.includes('could not remove expired finished jobs') && line.includes('MDB_DISKFULL'))).toBe(true);
  });
});
