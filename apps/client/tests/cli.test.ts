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
    for (const text of ['--user <name>', '--password <password>', 'CORREIO_PASSWORD', '--register', '--json', '--broker <endpoint>', 'CORREIO_BROKER', '--proxy-sub <endpoint>', 'CORREIO_PROXY_SUB', 'bot [options]']) expect(help.stdout).toContain(text);
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

  it('in --json mode registers with --password, logs in with CORREIO_PASSWORD, and names what is wrong with a login', async () => {
    const at = await startClusterFor(cleanups, { auth: { auth: 'password' } });
    const connect = ['--broker', at.brokerEndpoint, '--proxy-sub', at.proxySub];
    const register = startClientProcess(['--json', '--user', 'ana', '--register', '--password', 'ana password', ...connect]);
    await register.waitForEvent('ready');
    register.endInput();
    expect((await register.exited).code).toBe(0);
    expect(register.events()[0]).toMatchObject({ event: 'ready', user: 'ana', registered: true });
    expect(at.server.served.get('chat.logout.request')).toBe(1); // the end of input logs out

    const login = startClientProcess(['--json', '--user', 'ana', ...connect], { CORREIO_PASSWORD: 'ana password' });
    await login.waitForEvent('ready');
    login.write('/create general');
    await login.waitForEvent('channel');
    // Passwords are never read from a script's lines: /password is for the terminal.
    login.write('/password');
    expect(await login.waitForEvent('error')).toMatchObject({ command: 'password', code: 'USAGE', message: '/password needs a terminal: it asks for the passwords without showing them' });
    login.endInput();
    expect((await login.exited).code).toBe(0);
    expect(at.server.channels.get('general')).toMatchObject({ created_by: 'ana' });
    expect(at.server.served.get('chat.password.request')).toBeUndefined();

    const failures: [string[], string, RegExp][] = [
      [['--password', 'not the password'], 'UNAUTHENTICATED', /^wrong user name or password for ana \(a new user registers first: add --register\)$/],
      [[], 'UNAUTHENTICATED', /^this server needs a password to log in as ana: pass --password or set CORREIO_PASSWORD/],
      [['--register', '--password', 'another password'], 'CONFLICT', /^the user name ana is taken: log in without --register \(with its password\), or pick another name$/],
    ];
    for (const [args, code, message] of failures) {
      const refused = startClientProcess(['--json', '--user', 'ana', ...args, ...connect]);
      expect((await refused.exited).code).toBe(1);
      expect(refused.events()).toEqual([expect.objectContaining({ event: 'error', code, message: expect.stringMatching(message) })]);
    }
  });

  it('refuses a password shorter than 8 characters before connecting', async () => {
    const short = startClientProcess(['--json', '--user', 'ana', '--password', 'short']);
    expect((await short.exited).code).toBe(1);
    expect(short.stderr).toMatch(/option '--password <password>' is invalid: a password has at least 8 characters \(this one has 5\)/);
    expect(short.stderr).not.toContain("'short'");
  });

  it('bot: the bots register their accounts with generated passwords on a server in password mode', async () => {
    const at = await startClusterFor(cleanups, { auth: { auth: 'password' } });
    const bot = startClientProcess(['bot', '--json', '--quiet', '--users', '3', '--rate', '50', '--messages', '15', '--warmup', '100ms', '--settle', '200ms', '--broker', at.brokerEndpoint, '--proxy-sub', at.proxySub]);
    expect((await bot.exited).code).toBe(0);
    const [report] = bot.events();
    expect(report).toMatchObject({ users: 3, setup: { loggedIn: 3 }, sent: { total: { sent: 15, acked: 15, failed: 0 } } });
    expect(at.server.accounts.size).toBe(3);
    for (const password of at.server.accounts.values()) expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
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
