// A server that cannot start says what it waits for, at the default log level, instead of staying
// silent until its start times out: once after 2 s, then every 10 s.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '@correio/testing';
import { brokerMain, fileScratch, serverMain, spawnTs, TEST_HEARTBEAT_MS } from './helpers/processes.js';

const scratch = fileScratch({ prefix: 'correio-server-notice-' });

/** The server's log lines (pino JSON on stderr) whose message contains `text`. */
function notices(stderr: string, text: string): { msg: string; waitedMs: number; level: number }[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes(text))
    .map((line) => JSON.parse(line) as { msg: string; waitedMs: number; level: number });
}

describe('a server waiting to start', () => {
  it('says it waits for the broker, where, and how to start it; then again every 10 s', async () => {
    const broker = `tcp://127.0.0.1:${await freePort()}`;
    const proxy = [`tcp://127.0.0.1:${await freePort()}`, `tcp://127.0.0.1:${await freePort()}`];
    // The variable is unset: the default level (warn) must show it.
    const server = spawnTs('server without broker', serverMain, ['--id', 'lonely', '--data-dir', join(scratch.dir, 'lonely'), '--broker', broker, '--proxy-pub', proxy[0]!, '--proxy-sub', proxy[1]!], { CORREIO_LOG_LEVEL: undefined });
    const text = `waiting for the broker at ${broker}: is it running? npx correio broker --endpoint ${broker}`;
    const [first, second] = await server.waitFor(() => notices(server.stderr, text).length >= 2 && notices(server.stderr, text), 'two notices', 25_000);
    expect(first!.level).toBe(40); // warn
    expect(first!.waitedMs).toBeGreaterThanOrEqual(2_000);
    expect(second!.waitedMs - first!.waitedMs).toBeGreaterThanOrEqual(10_000);
    await server.stop();
  });

  it('once connected to the broker, says it waits for the proxy', async () => {
    const brokerProcess = spawnTs('broker', brokerMain, ['--endpoint', 'tcp://127.0.0.1:*', '--heartbeat', String(TEST_HEARTBEAT_MS), '--startup-grace', '0']);
    const broker = (await brokerProcess.waitForLine(/^broker ready /)).split(' ')[2]!;
    const proxy = [`tcp://127.0.0.1:${await freePort()}`, `tcp://127.0.0.1:${await freePort()}`];
    const server = spawnTs('server without proxy', serverMain, ['--id', 'no-proxy', '--data-dir', join(scratch.dir, 'no-proxy'), '--broker', broker, '--proxy-pub', proxy[0]!, '--proxy-sub', proxy[1]!, '--heartbeat', String(TEST_HEARTBEAT_MS)], { CORREIO_LOG_LEVEL: undefined });
    const [notice] = await server.waitFor(() => notices(server.stderr, 'is the proxy running?').length > 0 && notices(server.stderr, 'is the proxy running?'), 'the proxy notice', 20_000);
    expect(notice!.msg).toBe(
      `connected to the broker at ${broker}; waiting for it to list this server's services and for the proxy at ${proxy[0]} (publishers) and ${proxy[1]} (subscribers) ` +
        `to carry its announcement: is the proxy running? npx correio proxy --publishers ${proxy[0]} --subscribers ${proxy[1]}`,
    );
    expect(notices(server.stderr, 'waiting for the broker')).toEqual([]);
    await server.stop();
    await brokerProcess.stop();
  });
});
