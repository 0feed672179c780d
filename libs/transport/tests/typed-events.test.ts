import { listenerFailureCount, openSocket, TypedEvents } from '@correio/transport';
import { afterEach, describe, expect, it } from 'vitest';
import { bindAddress, NETWORK_TRANSPORTS } from './helpers/endpoints.js';
import { waitFor } from './helpers/wait.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

/** Fails the test if anything reaches the process as an uncaught exception while `run` runs. */
async function withoutUncaught(run: () => Promise<void>): Promise<void> {
  const uncaught: unknown[] = [];
  const record = (error: unknown): void => void uncaught.push(error);
  process.on('uncaughtException', record);
  try {
    await run();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('uncaughtException', record);
  }
  expect(uncaught).toEqual([]);
}

describe('TypedEvents', () => {
  it('contains and counts a listener that throws; later listeners still run', async () => {
    await withoutUncaught(async () => {
      const events = new TypedEvents<{ tick: number }>();
      const seen: number[] = [];
      events.on('tick', () => {
        throw new Error('listener bug');
      });
      events.on('tick', (n) => seen.push(n));
      const before = listenerFailureCount();
      events.emit('tick', 1);
      events.emit('tick', 2);
      expect(seen).toEqual([1, 2]);
      expect(listenerFailureCount() - before).toBe(2);
    });
  });

  it.each(NETWORK_TRANSPORTS)('a throwing listener of peer-driven socket events does not stop the socket (%s)', async (transport) => {
    await withoutUncaught(async () => {
      const pull = openSocket('pull');
      cleanup.push(() => pull.close());
      pull.events.on('accepted', () => {
        throw new Error('listener bug reached by a connecting peer');
      });
      const endpoint = await pull.bind(bindAddress(transport, 'events'));
      const before = listenerFailureCount();
      const push = openSocket('push');
      cleanup.push(() => push.close());
      push.connect(endpoint);
      await push.send(['still served']);
      const [frame] = (await pull.receive())!;
      expect(frame!.toString()).toBe('still served');
      await waitFor(() => listenerFailureCount() > before, 'the accepted event to reach the throwing listener');
    });
  });
});
