// bench:hop's measurement over real sockets: an echo peer in a child process for each transport,
// every round trip echoed (the client waits for each), CPU read from /proc for both processes and
// their threads (ZeroMQ's I/O thread shows up on both sides), and the child gone afterwards.
import { describe, expect, it } from 'vitest';
import { measure, TRANSPORTS } from '../src/hop/roundTrip.js';

describe('bench:hop', () => {
  it.each(TRANSPORTS)('times round trips to a %s echo peer and counts the CPU of both processes by thread', async (transport) => {
    const row = await measure(transport, 300, 30, 140);
    expect(row.transport).toBe(transport);
    expect(row.perSecond).toBeGreaterThan(0);
    expect(row.p50).toBeGreaterThan(0);
    expect(row.p99).toBeGreaterThanOrEqual(row.p50);
    expect(row.cpu.client.has('main')).toBe(true);
    expect(row.cpu.echo.has('main')).toBe(true);
    if (transport === 'zeromq') expect([...row.cpu.echo.keys()].some((thread) => thread.startsWith('ZMQbg/IO'))).toBe(true);
  });
});
