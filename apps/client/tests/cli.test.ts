// correio-client as a process: flags, exit statuses, the JSON mode, the bot's report on a signal.
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, killAll, sleep } from '@correio/testing';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { startClusterFor } from './helpers/cluster.js';
import { startClientProcess } from './helpers/processes.js';

const cleanups = cleanupAfterEach();
const cluster = () => startClusterFor(cleanups);
afterEach(killAll); // the client processes

describe('correio-client', () => {
  it('documents its flags and their environment variables', async () => {
    const help = startClientProcess(['--help']);
    expect((await help.exited).code).toBe(0);
    for (const text of ['--user <name>', '--json', '--broker <endpoint>', 'CORREIO_BROKER', '--proxy-sub <endpoint>', 'CORREIO_PROXY_SUB', 'bot [options]']) expect(help.stdout).toContain(text);
    const botHelp = startClientProcess(['bot', '--help']);
    expect((await botHelp.exited).code).toBe(0);
    for (const text of ['--users <n>', '--rate <r>', '--duration <s>', '--messages <m>', '--channels <k>', 'CORREIO_BOT_RATE']) expect(botHelp.stdout).toContain(text);
  });

  it('refuses a bad flag with one clear line', async () => {
    const bad = startClientProcess(['bot', '--rate', 'fast']);
    expect((await bad.exited).code).toBe(1);
    expect(bad.stderr).toMatch(/option '--rate <r>' argument 'fast' is invalid/);
  });

  it('exits non-zero with a clear message when the broker is down', async () => {
    const port = await freePort();
    const client = startClientProcess(['--user', 'ana', '--broker', `tcp://127.0.0.1:${port}`, '--connect-timeout', '1000']);
    client.endInput();
    expect((await client.exited).code).toBe(1);
    expect(client.stderr).toContain(`correio-client: cannot reach the broker at tcp://127.0.0.1:${port}: is it running? Start it with: npx correio broker --endpoint tcp://127.0.0.1:${port}`);
  });

  it('in --json mode reports the same failure as a JSON event', async () => {
    const port = await freePort();
    const client = startClientProcess(['--json', '--user', 'ana'], { CORREIO_BROKER: `tcp://127.0.0.1:${port}`, CORREIO_CONNECT_TIMEOUT: '800' });
    expect((await client.exited).code).toBe(1);
    expect(client.events()).toEqual([expect.objectContaining({ event: 'error', code: 'UNAVAILABLE', message: expect.stringContaining(`cannot reach the broker at tcp://127.0.0.1:${port}`) })]);
  });

  it('in --json mode runs commands from stdin and writes one JSON event per line', async () => {
    const at = await cluster();
    const ana = startClientProcess(['--json', '--user', 'ana', '--broker', at.brokerEndpoint, '--proxy-sub', at.proxySub]);
    await ana.waitForEvent('ready');
    ana.write('/create general');
    ana.write('/join general');
    await ana.waitForEvent('joined');
    await sleep(300); // the subscription reaches the server's PUB
    ana.write('hello from a script');
    ana.write('/msg ana note to self');
    await Promise.all([ana.waitForEvent('direct'), ana.waitForEvent('publication')]);
    ana.endInput();
    expect((await ana.exited).code).toBe(0);
    const events = ana.events();
    expect(events[0]).toMatchObject({ event: 'ready', user: 'ana' });
    expect(events.at(-1)).toMatchObject({ event: 'bye', user: 'ana' });
    const replies = events.filter((e) => ['channel', 'joined', 'published', 'sent'].includes(e['event'] as string)).map((e) => e['event']);
    expect(replies).toEqual(['channel', 'joined', 'published', 'sent']);
    const publication = events.find((e) => e['event'] === 'publication')!;
    expect(publication).toMatchObject({ channel: 'general', user: 'ana', text: 'hello from a script', op: { origin: 'fake-srv' } });
    expect(publication['clock']).toBeGreaterThan(publication['lc'] as number);
    for (const event of events) expect(event).toEqual(expect.objectContaining({ clock: expect.any(Number), at: expect.any(Number) }));
  });

  it('bot: SIGTERM stops the run, which still reports', async () => {
    const at = await cluster();
    const bot = startClientProcess(['bot', '--json', '--users', '3', '--rate', '40', '--duration', '60', '--warmup', '100ms', '--broker', at.brokerEndpoint, '--proxy-sub', at.proxySub]);
    await bot.waitFor(() => bot.stderr.includes('sending 40 msg/s'), 'the traffic phase');
    await sleep(700);
    bot.kill('SIGTERM');
    expect((await bot.exited).code).toBe(0);
    const [report] = bot.events();
    expect(report).toMatchObject({ stoppedBy: 'signal', users: 3 });
    const sent = (report as { sent: { total: { sent: number; acked: number; failed: number } } }).sent.total;
    expect(sent.sent).toBeGreaterThan(0);
    expect(sent.sent).toBe(sent.acked + sent.failed);
    expect(bot.stderr).toContain('SIGTERM: stopping; the report follows');
  });

  it('bot: prints a table by default', async () => {
    const at = await cluster();
    const bot = startClientProcess(['bot', '--quiet', '--users', '2', '--rate', '50', '--messages', '20', '--warmup', '100ms', '--settle', '200ms', '--broker', at.brokerEndpoint, '--proxy-sub', at.proxySub]);
    expect((await bot.exited).code).toBe(0);
    expect(bot.stdout).toMatch(/stopped by messages/);
    expect(bot.stdout).toMatch(/^total\s+20\s+20\s+0$/m);
    expect(bot.stdout).toMatch(/^publication\s+\d+\s+\d+\s+\d+/m);
    expect(bot.stderr).toBe('');
  });
});
