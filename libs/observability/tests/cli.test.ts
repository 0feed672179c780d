import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Command,
  addCommonOptions,
  addCurveClientOptions,
  addCurveServerOptions,
  curveClientKeys,
  curveServerKey,
  envOption,
  parseCurveKey,
  parseDurationMs,
  parseEndpoint,
  parseList,
  parsePort,
  parsePositiveInt,
} from '@correio/observability';

function program(): { command: Command; errors: string[] } {
  const errors: string[] = [];
  const command = addCommonOptions(new Command('demo'))
    .addOption(envOption('--heartbeat <ms>', 'heartbeat interval', 'CORREIO_DEMO_HEARTBEAT').argParser(parseDurationMs).default(2500))
    .exitOverride()
    .configureOutput({ writeErr: (text) => errors.push(text), writeOut: () => undefined });
  return { command, errors };
}

/** Parses argv with exactly `env` as the environment (commander reads process.env at parse time). */
function parse(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const saved = process.env;
  process.env = { ...env };
  try {
    const { command, errors } = program();
    try {
      command.parse(argv, { from: 'user' });
      return { options: command.opts(), errors };
    } catch {
      return { options: undefined, errors };
    }
  } finally {
    process.env = saved;
  }
}

describe('common options', () => {
  it('defaults to a quiet log level and no HTTP side port', () => {
    const { options } = parse([]);
    expect(options).toEqual({ logLevel: 'warn', httpHost: '127.0.0.1', heartbeat: 2500 });
  });

  it('takes flags over CORREIO_* variables, and variables over defaults', () => {
    expect(parse([], { CORREIO_LOG_LEVEL: 'info', CORREIO_HTTP_PORT: '9100', CORREIO_DEMO_HEARTBEAT: '1s' }).options).toEqual({
      logLevel: 'info',
      httpPort: 9100,
      httpHost: '127.0.0.1',
      heartbeat: 1000,
    });
    expect(parse(['--log-level', 'debug', '--http-port', '0'], { CORREIO_LOG_LEVEL: 'info' }).options).toMatchObject({ logLevel: 'debug', httpPort: 0 });
  });

  it('explains a bad value clearly', () => {
    expect(parse(['--log-level', 'loud']).errors.join('')).toMatch(/argument 'loud' is invalid. Allowed choices are fatal, error, warn/);
    expect(parse(['--http-port', '70000']).errors.join('')).toMatch(/a port is an integer from 0 to 65535/);
    expect(parse(['--heartbeat', 'soon']).errors.join('')).toMatch(/expected a duration such as 2500/);
  });
});

describe('value parsers', () => {
  it('parse durations, lists, ports and counts', () => {
    expect(parseDurationMs('2500')).toBe(2500);
    expect(parseDurationMs('2.5s')).toBe(2500);
    expect(parseDurationMs('1m')).toBe(60_000);
    expect(parseDurationMs('10ms')).toBe(10);
    expect(() => parseDurationMs('0')).toThrow(/at least 1 ms/);
    expect(parseList(' echo, time,,')).toEqual(['echo', 'time']);
    expect(parsePort('0')).toBe(0);
    expect(() => parsePort('x')).toThrow(/integer/);
    expect(parsePositiveInt('3')).toBe(3);
    expect(() => parsePositiveInt('0')).toThrow(/at least 1/);
  });

  it('check endpoints and CURVE keys', () => {
    expect(parseEndpoint('tcp://127.0.0.1:5555')).toBe('tcp://127.0.0.1:5555');
    expect(() => parseEndpoint('127.0.0.1:5555')).toThrow(/ZeroMQ endpoint/);
    for (const good of ['tcp://*:*', 'tcp://0.0.0.0:0', 'tcp://[::1]:65535', 'tcp://eth0:5555', 'ws://127.0.0.1:8080/path', 'ipc:///tmp/a:99999', 'inproc://x:1']) {
      expect(parseEndpoint(good)).toBe(good);
    }
    for (const bad of ['tcp://127.0.0.1:99999', 'tcp://127.0.0.1:65536', 'tcp://127.0.0.1', 'tcp://127.0.0.1:', 'tcp://[::1]', 'tcp://127.0.0.1:-1', 'tcp://127.0.0.1:55x']) {
      expect(() => parseEndpoint(bad), bad).toThrow(/needs a port from 0 to 65535/);
    }
    expect(parseCurveKey('rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7')).toHaveLength(40);
    expect(() => parseCurveKey('short')).toThrow(/40-character Z85/);
  });
});

describe('CURVE server options', () => {
  const KEY = 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7';

  /** The key a command line gives, or the one-line error it fails with. */
  function curveOf(argv: string[], env: NodeJS.ProcessEnv = {}): { key?: ReturnType<typeof curveServerKey>; error?: string } {
    const saved = process.env;
    process.env = { ...env };
    const errors: string[] = [];
    const command = addCurveServerOptions(new Command('demo'), 'CORREIO_DEMO')
      .exitOverride()
      .configureOutput({ writeErr: (text) => errors.push(text), writeOut: () => undefined });
    try {
      command.parse(argv, { from: 'user' });
      return { key: curveServerKey(command) };
    } catch {
      return { error: errors.join('').trim() };
    } finally {
      process.env = saved;
    }
  }

  it('is off unless a key is given', () => {
    expect(curveOf([])).toEqual({ key: undefined });
    expect(curveOf(['--zap-domain', 'global'])).toEqual({ key: undefined });
  });

  it('takes the key from the flag, the environment or a file, with the ZAP domain', () => {
    expect(curveOf(['--curve-secret-key', KEY, '--zap-domain', 'global'])).toEqual({ key: { secretKey: KEY, zapDomain: 'global' } });
    expect(curveOf([], { CORREIO_DEMO_CURVE_SECRET_KEY: KEY, CORREIO_DEMO_ZAP_DOMAIN: 'lab' })).toEqual({ key: { secretKey: KEY, zapDomain: 'lab' } });
    const dir = mkdtempSync(join(tmpdir(), 'correio-curve-'));
    try {
      writeFileSync(join(dir, 'server.key'), `${KEY}\n`);
      expect(curveOf(['--curve-secret-key-file', join(dir, 'server.key')])).toEqual({ key: { secretKey: KEY } });
      writeFileSync(join(dir, 'bad.key'), 'not a key\n');
      expect(curveOf(['--curve-secret-key-file', join(dir, 'bad.key')]).error).toMatch(/^error: --curve-secret-key-file .*bad\.key: expected a 40-character Z85 CURVE key\.$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses two keys, an unreadable key file and a malformed key with one clear line', () => {
    expect(curveOf(['--curve-secret-key', KEY, '--curve-secret-key-file', '/nonexistent']).error).toBe('error: give --curve-secret-key or --curve-secret-key-file, not both');
    expect(curveOf(['--curve-secret-key-file', '/nonexistent/server.key']).error).toMatch(/^error: cannot read --curve-secret-key-file \/nonexistent\/server\.key: ENOENT/);
    expect(curveOf(['--curve-secret-key', 'short']).error).toMatch(/expected a 40-character Z85 CURVE key/);
  });
});

describe('CURVE client options', () => {
  const SERVER = 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7';
  const PROXY = 'Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID';
  const PUBLIC = 'HH-=ZmBR(kvh4f95>HMw7fE#]1Ln!Qx(}ttmmf(c';
  const SECRET = 'D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs';
  const fresh = () => ({ publicKey: PUBLIC, secretKey: SECRET });

  /** The keys a command line gives, or the one-line error it fails with. */
  function keysOf(argv: string[], env: NodeJS.ProcessEnv = {}, generate?: typeof fresh): { keys?: ReturnType<typeof curveClientKeys>; error?: string } {
    const saved = process.env;
    process.env = { ...env };
    const errors: string[] = [];
    const command = addCurveClientOptions(new Command('demo'), 'CORREIO_DEMO')
      .exitOverride()
      .configureOutput({ writeErr: (text) => errors.push(text), writeOut: () => undefined });
    try {
      command.parse(argv, { from: 'user' });
      return { keys: curveClientKeys(command, generate) };
    } catch {
      return { error: errors.join('').trim() };
    } finally {
      process.env = saved;
    }
  }

  it('is off unless the server key is given', () => {
    expect(keysOf([])).toEqual({ keys: undefined });
  });

  it('uses the given key pair for broker and proxy, from flags, the environment or a file', () => {
    const both = { serverKey: SERVER, publicKey: PUBLIC, secretKey: SECRET };
    expect(keysOf(['--curve-server-key', SERVER, '--curve-public-key', PUBLIC, '--curve-secret-key', SECRET])).toEqual({ keys: { broker: both, proxy: both } });
    expect(keysOf([], { CORREIO_DEMO_CURVE_SERVER_KEY: SERVER, CORREIO_DEMO_CURVE_PUBLIC_KEY: PUBLIC, CORREIO_DEMO_CURVE_SECRET_KEY: SECRET })).toEqual({ keys: { broker: both, proxy: both } });
    const dir = mkdtempSync(join(tmpdir(), 'correio-curve-'));
    try {
      writeFileSync(join(dir, 'client.key'), `${SECRET}\n`);
      expect(keysOf(['--curve-server-key', SERVER, '--curve-public-key', PUBLIC, '--curve-secret-key-file', join(dir, 'client.key')])).toEqual({ keys: { broker: both, proxy: both } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes the proxy's own key when it differs from the broker's", () => {
    const { keys } = keysOf(['--curve-server-key', SERVER, '--curve-proxy-server-key', PROXY, '--curve-public-key', PUBLIC, '--curve-secret-key', SECRET]);
    expect(keys?.broker.serverKey).toBe(SERVER);
    expect(keys?.proxy).toEqual({ serverKey: PROXY, publicKey: PUBLIC, secretKey: SECRET });
  });

  it('generates an ephemeral pair when only the server key is given and a generator is supplied', () => {
    let calls = 0;
    const { keys } = keysOf(['--curve-server-key', SERVER], {}, () => (calls++, fresh()));
    expect(calls).toBe(1);
    expect(keys).toEqual({ broker: { serverKey: SERVER, ...fresh() }, proxy: { serverKey: SERVER, ...fresh() } });
    expect(keysOf(['--curve-server-key', SERVER]).error).toBe("error: --curve-server-key needs this program's key pair: --curve-public-key and --curve-secret-key");
  });

  it('refuses incomplete or contradictory keys with one clear line', () => {
    expect(keysOf(['--curve-public-key', PUBLIC, '--curve-secret-key', SECRET]).error).toBe("error: CURVE client keys need --curve-server-key (the broker's public key)");
    expect(keysOf(['--curve-proxy-server-key', PROXY]).error).toBe("error: CURVE client keys need --curve-server-key (the broker's public key)");
    expect(keysOf(['--curve-server-key', SERVER, '--curve-public-key', PUBLIC], {}, fresh).error).toBe('error: give --curve-public-key and --curve-secret-key (or --curve-secret-key-file) together');
    expect(keysOf(['--curve-server-key', SERVER, '--curve-secret-key', SECRET, '--curve-secret-key-file', '/nonexistent'], {}, fresh).error).toBe('error: give --curve-secret-key or --curve-secret-key-file, not both');
    expect(keysOf(['--curve-server-key', 'short']).error).toMatch(/expected a 40-character Z85 CURVE key/);
  });
});
