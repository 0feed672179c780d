import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROGRAM_NAMES } from '@correio/cli';
import { runCorreio } from './helpers/runCorreio.js';

const scratch = mkdtempSync(join(tmpdir(), 'correio-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('correio --help', () => {
  it('lists every subcommand', async () => {
    const { code, stdout } = await runCorreio(['--help']);
    expect(code).toBe(0);
    for (const name of [...PROGRAM_NAMES, 'up', 'config', 'logs']) expect(stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
  });

  it.each([
    ['broker', 'CORREIO_BROKER_HEARTBEAT'],
    ['proxy', 'CORREIO_PROXY_MODE'],
    ['ref', 'CORREIO_REF_DATA_DIR'],
    ['server', 'CORREIO_SERVER_DATA_DIR'],
    ['client', 'CORREIO_USER'],
  ])('shows the flags and variables of correio %s', async (name, variable) => {
    const { code, stdout, stderr } = await runCorreio([name, '--help']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(`Usage: correio ${name}`);
    expect(stdout).toContain(variable);
    expect(stdout).toContain(`section "${name}"`);
  });

  it('answers `correio help <program>` with the program\'s own flags, as --help does', async () => {
    const help = await runCorreio(['help', 'server']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: correio server [options]');
    expect(help.stdout).toContain('CORREIO_SERVER_DATA_DIR');
    const bot = await runCorreio(['help', 'client', 'bot']);
    expect(bot.stdout).toContain('Usage: correio client bot');
    const up = await runCorreio(['help', 'up']);
    expect(up.stdout).toContain('--duration <time>');
  });

  it('shows the bot, the up and the config commands', async () => {
    const bot = await runCorreio(['client', 'bot', '--help']);
    expect(bot.code).toBe(0);
    expect(bot.stdout).toContain('Usage: correio client bot');
    expect(bot.stdout).toContain('CORREIO_BOT_RATE');
    expect(bot.stdout).toContain('section "bot"');
    const up = await runCorreio(['up', '--help']);
    expect(up.code).toBe(0);
    expect(up.stdout).toContain('--duration <time>');
    expect(up.stdout).toContain('CORREIO_UP_SERVERS');
    const config = await runCorreio(['config', '--help']);
    expect(config.code).toBe(0);
    expect(config.stdout).toContain('--env <section>');
  });
});

describe('bad input', () => {
  it('refuses a config file with mistakes, naming the line, the key and what is expected', async () => {
    const file = join(scratch, 'bad.yaml');
    writeFileSync(file, ['broker:', '  heartbeet: 1s', '  liveness: 0', 'proxy:', '  mode: fast', 'servers: 3', ''].join('\n'));
    for (const args of [['--config', file, 'broker'], ['broker', '--config', file], ['up', '--config', file], ['config', file]]) {
      const { code, stdout, stderr } = await runCorreio(args);
      expect(code, args.join(' ')).toBe(1);
      expect(stdout).toBe('');
      expect(stderr).toContain(`config file ${file} has 4 problems`);
      expect(stderr).toContain(`${file}:2: broker.heartbeet: "heartbeet" is not a key of section "broker"; did you mean "heartbeat"?`);
      expect(stderr).toContain(`${file}:3: broker.liveness: expected an integer of at least 1; got 0.`);
      expect(stderr).toContain(`${file}:5: proxy.mode: expected native`);
      expect(stderr).toContain(`${file}:6: servers: "servers" is not a top-level section; did you mean "server"?`);
      expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  });

  it('refuses a file that is not YAML, and one that does not exist', async () => {
    const file = join(scratch, 'broken.yaml');
    writeFileSync(file, 'broker: {heartbeat: 1s\n');
    const broken = await runCorreio(['--config', file, 'proxy']);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(new RegExp(`${file}:\\d+: not valid YAML or JSON`));
    const missing = await runCorreio(['--config', join(scratch, 'nope.yaml'), 'broker'], { env: {} });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot read it (no such file); check the path given to --config or CORREIO_CONFIG');
    const viaEnv = await runCorreio(['ref'], { env: { CORREIO_CONFIG: join(scratch, 'nope.yaml') } });
    expect(viaEnv.code).toBe(1);
    expect(viaEnv.stderr).toContain('nope.yaml');
  });

  it('passes a bad flag to the program, which says what is wrong', async () => {
    const { code, stderr } = await runCorreio(['broker', '--heartbeat', 'soon']);
    expect(code).toBe(1);
    expect(stderr).toContain("option '--heartbeat <ms>' argument 'soon' is invalid");
  });

  it('refuses an unknown subcommand', async () => {
    const { code, stderr } = await runCorreio(['brokr']);
    expect(code).not.toBe(0);
    expect(stderr).toContain("unknown command 'brokr'");
  });
});

describe('correio config', () => {
  it('prints the variables a file sets, and one section as an env file', async () => {
    const file = join(scratch, 'good.yaml');
    writeFileSync(file, ['broker:', '  heartbeat: 1s', '  idempotent: [ref, chat.lookup]', 'ref:', '  proxy: false', 'bot:', '  rate: 5', '  quiet: true', ''].join('\n'));
    const all = await runCorreio(['config', file]);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain('CORREIO_BROKER_HEARTBEAT=1s');
    expect(all.stdout).toContain('CORREIO_BROKER_IDEMPOTENT=ref,chat.lookup');
    expect(all.stdout).toContain('flags: --no-proxy');
    const bot = await runCorreio(['--config', file, 'config', '--env', 'bot']);
    expect(bot.code).toBe(0);
    expect(bot.stdout.trim().split('\n')).toEqual(['CORREIO_BOT_RATE=5', 'CORREIO_BOT_QUIET=true']);
  });
});
