// The bot against the fake server: bounded runs, consistent numbers, and waiting for a late broker.
import { describe, expect, it } from 'vitest';
import { runBot, type BotReport } from '@correio/client';
import { freePort, sleep } from '@correio/testing';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { startBroker, startClusterFor, startProxy } from './helpers/cluster.js';
import { FakeChatServer } from './helpers/FakeChatServer.js';

const cleanups = cleanupAfterEach();
const cluster = () => startClusterFor(cleanups);

function expectConsistent(report: BotReport): void {
  for (const kind of [report.sent.publish, report.sent.direct]) expect(kind.sent).toBe(kind.acked + kind.failed);
  expect(report.sent.total.sent).toBe(report.sent.publish.sent + report.sent.direct.sent);
  expect(report.sent.total.acked).toBe(report.sent.publish.acked + report.sent.direct.acked);
  expect(report.received.publication.total).toBeGreaterThanOrEqual(report.received.publication.fromRun);
}

describe('runBot', () => {
  it('runs a bounded session and reports consistent numbers', async () => {
    const at = await cluster();
    const started = performance.now();
    const report = await runBot({ broker: at.brokerEndpoint, proxy: at.proxySub, users: 6, rate: 100, messages: 150, channels: 3, directRatio: 0.3, warmupMs: 300, settleMs: 500 });
    const elapsedMs = performance.now() - started;
    expectConsistent(report);
    expect(report.stoppedBy).toBe('messages');
    expect(report.sent.total).toEqual({ sent: 150, acked: 150, failed: 0 });
    expect(report.sent.direct.sent).toBeGreaterThan(0);
    expect(report.setup.loggedIn).toBe(6);
    // What the server published to the bots' channels while they were subscribed, they received.
    expect(at.server.publishedCount).toBe(report.sent.publish.acked);
    expect(report.received.publication.fromRun).toBeGreaterThanOrEqual(report.received.publication.expected);
    expect(report.received.publication.expected).toBeGreaterThanOrEqual(report.sent.publish.acked);
    expect(report.received.direct).toMatchObject({ fromRun: report.sent.direct.acked, expected: report.sent.direct.acked });
    expect(report.gaps).toEqual({ count: 0, missed: 0 });
    // Every acknowledged request was timed, in order, and none took longer than the whole run.
    for (const kind of [report.sent.publish, report.sent.direct]) {
      const latency = kind.latencyMs!;
      expect(latency.count).toBe(kind.acked);
      expect(latency.p50).toBeGreaterThan(0);
      expect(latency.p50).toBeLessThanOrEqual(latency.p99);
      expect(latency.p99).toBeLessThanOrEqual(latency.max);
      expect(latency.mean).toBeLessThanOrEqual(latency.max);
      expect(latency.max).toBeLessThan(elapsedMs);
    }
    expect([...at.server.users.keys()].every((user) => user.startsWith(`bot-${report.run}-`))).toBe(true);
    expect([...at.server.channels.keys()].sort()).toEqual(['room-1', 'room-2', 'room-3']);
  });

  it('stops at the duration', async () => {
    const at = await cluster();
    const report = await runBot({ broker: at.brokerEndpoint, proxy: at.proxySub, users: 2, rate: 20, durationMs: 1_000, warmupMs: 100, settleMs: 200 });
    expectConsistent(report);
    expect(report.stoppedBy).toBe('duration');
    expect(report.durationMs).toBeGreaterThanOrEqual(999);
    expect(report.sent.total.sent).toBe(20);
  });

  it('stops cleanly on a signal and still reports', async () => {
    const at = await cluster();
    const stop = new AbortController();
    const phases: string[] = [];
    const running = runBot({ broker: at.brokerEndpoint, proxy: at.proxySub, users: 3, rate: 50, durationMs: 60_000, warmupMs: 100, settleMs: 200, signal: stop.signal, onPhase: (m) => phases.push(m) });
    while (!phases.some((m) => m.includes('sending'))) await sleep(20);
    await sleep(500);
    stop.abort();
    const report = await running;
    expectConsistent(report);
    expect(report.stoppedBy).toBe('signal');
    expect(report.sent.total.sent).toBeGreaterThan(5);
    expect(report.durationMs).toBeLessThan(10_000);
  });

  it('waits for a broker that is not up yet, retrying, then runs', async () => {
    const port = await freePort();
    const endpoint = `tcp://127.0.0.1:${port}`;
    const proxy = await startProxy();
    cleanups.push(() => proxy.close());
    const server = new FakeChatServer({ broker: endpoint, proxyPub: proxy.frontend, heartbeatInterval: 300 }).start();
    cleanups.push(() => server.stop());
    const phases: string[] = [];
    const running = runBot({ broker: endpoint, proxy: proxy.backend, users: 3, rate: 50, messages: 30, warmupMs: 200, settleMs: 300, onPhase: (m) => phases.push(m) });
    await sleep(1_500);
    const broker = await startBroker(endpoint, 300);
    cleanups.push(() => broker.close());
    const report = await running;
    expectConsistent(report);
    expect(phases[0]).toBe(`waiting for the broker at ${endpoint} (up to 30 s)…`);
    expect(phases).toContain(`connected to the broker at ${endpoint}`);
    expect(report.sent.total).toEqual({ sent: 30, acked: 30, failed: 0 });
    expect(report.setup.durationMs).toBeGreaterThan(1_000);
  });

  it('gives up setup with a clear message when the broker never comes', async () => {
    const port = await freePort();
    await expect(runBot({ broker: `tcp://127.0.0.1:${port}`, proxy: `tcp://127.0.0.1:${await freePort()}`, users: 1, rate: 1, messages: 1, setupTimeoutMs: 800 })).rejects.toThrow(
      `cannot reach the broker at tcp://127.0.0.1:${port}: is it running?`,
    );
  });
});
