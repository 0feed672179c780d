import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, SECTION_NAMES, configSchema, parseConfig, sectionCommand, sectionSettings, upCommand } from '@correio/cli';
import { CorreioProcess, isAlive } from './helpers/runCorreio.js';

const scratch = mkdtempSync(join(tmpdir(), 'correio-config-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function problemsOf(text: string) {
  try {
    parseConfig(text, 'c.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected the config to be refused');
}

describe('the config schema', () => {
  const schema = configSchema() as { properties: Record<string, unknown>; $defs: Record<string, { properties: Record<string, unknown> }> };

  it.each(SECTION_NAMES)('section "%s" has exactly the options of its program', (section) => {
    const keys = new Set(sectionCommand(section).options.map((option) => option.attributeName()));
    expect(Object.keys(schema.$defs[section]!.properties).sort()).toEqual([...keys].sort());
  });

  it('section "up" has exactly the options of `correio up`', () => {
    const keys = upCommand(() => undefined)
      .options.map((option) => option.attributeName())
      .filter((key) => key !== 'config');
    expect(Object.keys(schema.$defs['up']!.properties).sort()).toEqual(keys.sort());
  });

  it('accepts a full file, JSON as well as YAML', () => {
    const yaml = parseConfig(
      ['broker:', '  endpoint: [tcp://127.0.0.1:5555, ipc:///tmp/b.sock]', '  heartbeat: 2.5s', '  deadline: 5000', 'ref:', '  proxy: false', 'up:', '  servers: 2', '  duration: 30', ''].join('\n'),
    );
    expect(yaml.sections.broker).toEqual({ endpoint: ['tcp://127.0.0.1:5555', 'ipc:///tmp/b.sock'], heartbeat: '2.5s', deadline: 5000 });
    const json = parseConfig(JSON.stringify({ proxy: { mode: 'metered' }, bot: { rate: 0.5 } }));
    expect(json.sections.proxy).toEqual({ mode: 'metered' });
    expect(parseConfig('').sections).toEqual({});
  });

  it('locates each mistake by line and key, and says what is expected', () => {
    const problems = problemsOf(['# comment', 'broker:', '  heartbeat: soon', '  maxQueue: 1.5', 'proxy:', '  publishers: 127.0.0.1:5570', 'up:', '  bots: 12', ''].join('\n'));
    expect(problems).toEqual([
      { key: 'broker.heartbeat', line: 3, message: expect.stringMatching(/^expected a duration of at least 1 ms: .*; got "soon"\.$/) },
      { key: 'broker.maxQueue', line: 4, message: 'expected an integer of at least 1; got 1.5.' },
      { key: 'proxy.publishers', line: 6, message: expect.stringContaining('expected a ZeroMQ endpoint such as "tcp://127.0.0.1:5555"') },
      { key: 'up.bots', line: 8, message: 'expected an integer from 0 to 9; got 12.' },
    ]);
  });

  it('refuses a section that is not a map, duplicate keys, and unknown keys with a suggestion', () => {
    expect(problemsOf('broker: 5555\n')[0]).toMatchObject({ key: 'broker', line: 1 });
    expect(problemsOf('broker:\n  hwm: 1\n  hwm: 2\n')[0]!.message).toMatch(/not valid YAML or JSON: Map keys must be unique/);
    expect(problemsOf('server:\n  dataDirectory: /x\n')[0]!.message).toContain('did you mean "dataDir"?');
  });
});

describe('sectionSettings', () => {
  it('turns values into the variables the program reads, and flags for options without one', () => {
    const broker = sectionSettings(sectionCommand('broker'), { endpoint: ['tcp://a:1', 'tcp://b:2'], heartbeat: 1000, idempotent: ['ref'], httpPort: 0 }, 'broker', 'f');
    expect(broker).toEqual({
      env: { CORREIO_BROKER_ENDPOINT: 'tcp://a:1,tcp://b:2', CORREIO_BROKER_HEARTBEAT: '1000', CORREIO_BROKER_IDEMPOTENT: 'ref', CORREIO_HTTP_PORT: '0' },
      args: [],
    });
    expect(sectionSettings(sectionCommand('ref'), { proxy: false }, 'ref', 'f')).toEqual({ env: {}, args: ['--no-proxy'] });
    expect(sectionSettings(sectionCommand('ref'), { proxy: true }, 'ref', 'f')).toEqual({ env: {}, args: [] });
    // A switch's variable turns it on whatever its value: false must leave it unset.
    expect(sectionSettings(sectionCommand('bot'), { json: true, quiet: false }, 'bot', 'f')).toEqual({ env: { CORREIO_BOT_JSON: 'true' }, args: [] });
  });

  it('refuses a key the program no longer has', () => {
    expect(() => sectionSettings(sectionCommand('proxy'), { gone: 1 }, 'proxy', 'f.yaml')).toThrow(/proxy\.gone: `correio-proxy` has no --gone option any more/);
  });
});

describe('precedence, in a running program', () => {
  /** The endpoint the broker says it bound, given a config file, the environment and flags (ipc paths: no ports to find). */
  async function boundEndpoint(options: { file?: string; env?: string; flag?: string }): Promise<string> {
    const file = join(scratch, `p-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, options.file ? `broker:\n  endpoint: ${options.file}\n` : '{}\n');
    const broker = new CorreioProcess(['--config', file, 'broker', ...(options.flag ? ['--endpoint', options.flag] : [])], options.env ? { CORREIO_BROKER_ENDPOINT: options.env } : {});
    try {
      const line = await broker.waitFor(/^broker ready /, 30_000);
      return line.split(' ')[2]!;
    } finally {
      broker.child.kill('SIGTERM');
      const { code } = await broker.exited;
      expect(code).toBe(0);
      expect(isAlive(broker.child.pid!)).toBe(false);
    }
  }

  it('flag > environment variable > config file > default', async () => {
    const sock = (name: string) => `ipc://${join(scratch, `${name}.sock`)}`;
    expect(await boundEndpoint({ file: sock('file') })).toBe(sock('file'));
    expect(await boundEndpoint({ file: sock('file'), env: sock('env') })).toBe(sock('env'));
    expect(await boundEndpoint({ file: sock('file'), env: sock('env'), flag: sock('flag') })).toBe(sock('flag'));
  });
});
