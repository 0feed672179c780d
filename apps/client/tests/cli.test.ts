// correio-client as a process: flags, exit statuses, the JSON mode, the bot's report on a signal.
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, startCluster, type Cluster } from './helpers/cluster.js';
import { ClientProcess, killAll } from './helpers/processes.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  await killAll();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function cluster(): Promise<Cluster> {
  const started = await startCluster();
  cleanups.push(() => started.close());
  return started;
}

describe('correio-client', () => {
  it('documents its flags and their environment variables', async () => {
    const help = new ClientProcess(['--help']);
    expect((await help.exited).code).toBe(0);
    for (const text of ['--user <name>', '--json', '--broker <endpoint>', 'CORREIO_BROKER', '--proxy-sub <endpoint>', 'CORREIO_PROXY_SUB', 'bot [options]']) expect(help.stdout).toContain(text);
    const botHelp = new ClientProcess(['bot', '--help']);
    expect((await botHelp.exited).code).toBe(0);
    for (const text of ['--users <n>', '--rate <r>', '--duration <s>', '--messages <m>', '--channels <k>', 'CORREIO_BOT_RATE']) expect(botHelp.stdout).toContain(text);
  });

  it('refuses a bad flag with one clear line', async () => {
    const bad = new ClientProcess(['bot', '--rate', 'fast']);
    expect((await bad.exited).code).toBe(1);
    expect(bad.stderr).toMatch(/option '--rate <r>' argument 'fast' is invalid/);
  });

  it('exits non-zero with a clear message when the broker is down', async () => {
    const port = await freePort();
    const client = new ClientProcess(['--user', 'ana', '--broker', `tcp://127.0.0.1:${port}`, '--connect-timeout', '1000']);
    client.endInput();
    expect((await client.exited).code).toBe(1);
    expect(client.stderr).toContain(`correio-client: cannot reach the broker at tcp://127.0.0.1:${port}: is it running? Start it with: correio-broker --endpoint tcp://127.0.0.1:${port}`);
  });

  it('in --json mode reports the same failure as a JSON event', async () => {
    const port = await freePort();
    const client = new ClientProcess(['--json', '--user', 'ana'], { CORREIO_BROKER: `tcp://127.0.0.1:${port}`, CORREIO_CONNECT_TIMEOUT: '800' });
    expect((await client.exited).code).toBe(1);
    expect(client.events).toEqual([expect.objectContaining({ event: 'error', code: 'UNAVAILABLE', message: expect.stringContaining(`cannot reach the broker at tcp://127.0.0.1:${port}`) })]);
  });

  it('in --json mode runs commands from stdin and writes one JSON event per line', async () => {
    const at = await cluster();
    const ana = new ClientProcess(['--json', '--user', 'ana', '--broker', at.brokerEndpoint, '--proxy-sub', at.proxySub]);
    await ana.until((p) => p.events.some((e) => e['event'] === 'ready'), 'ready');
    ana.write('/create general');
    ana.write('/join general');
    await ana.until((p) => p.events.some((e) => e['event'] === 'joined'), 'joined');
    await new Promise((resolve) => setTimeout(resolve, 300)); // the subscription reaches the server's PUB
    ana.write('hello from a script');
    ana.write('/msg ana note to self');
    await ana.until((p) => p.events.some((e) => e['event'] === 'direct') && p.events.some((e) => e['event'] === 'publication'), 'the live messages');
    ana.endInput();
    expect((await ana.exited).code).toBe(0);
    const events = ana.events;
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
    const bot = new ClientProcess(['bot', '--json', '--users', '3', '--rate', '40', '--duration', '60', '--warmup', '100ms', '--broker', at.brokerEndpoint, '--proxy-sub', at.proxySub]);
    await bot.until((p) => /sending 40 msg\/s/.test(p.stderr), 'the traffic phase');
    await new Promise((resolve) => setTimeout(resolve, 700));
    bot.child.kill('SIGTERM');
    expect((await bot.exited).code).toBe(0);
    const [report] = bot.events;
    expect(report).toMatchObject({ stoppedBy: 'signal', users: 3 });
    const sent = (report as { sent: { total: { sent: number; acked: number; failed: number } } }).sent.total;
    expect(sent.sent).toBeGreaterThan(0);
    expect(sent.sent).toBe(sent.acked + sent.failed);
    expect(bot.stderr).toContain('SIGTERM: stopping; the report follows');
  });

  it('bot: prints a table by default', async () => {
    const at = await cluster();
    const bot = new ClientProcess(['bot', '--quiet', '--users', '2', '--rate', '50', '--messages', '20', '--warmup', '100ms', '--settle', '200ms', '--broker', at.brokerEndpoint, '--proxy-sub', at.proxySub]);
    expect((await bot.exited).code).toBe(0);
    expect(bot.stdout).toMatch(/stopped by messages/);
    expect(bot.stdout).toMatch(/^total\s+20\s+20\s+0$/m);
    expect(bot.stdout).toMatch(/^publication\s+\d+\s+\d+\s+\d+/m);
    expect(bot.stderr).toBe('');
  });
});
