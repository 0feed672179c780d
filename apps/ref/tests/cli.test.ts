import { afterEach, describe, expect, it } from 'vitest';
import { parseRefCommandLine, refCommand } from '@correio/ref';

const argv = (...args: string[]) => ['node', 'correio-ref', ...args];
const quiet = () => refCommand().exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
const saved = { ...process.env };

afterEach(() => {
  for (const key of Object.keys(process.env)) if (key.startsWith('CORREIO_')) delete process.env[key];
  Object.assign(process.env, saved);
});

describe('correio-ref command line', () => {
  it('has defaults for everything', () => {
    const { options, logLevel, shutdownGraceMs } = parseRefCommandLine(argv(), quiet());
    expect(options).toEqual({
      broker: 'tcp://127.0.0.1:5555',
      publishEndpoint: 'tcp://127.0.0.1:5570',
      subscribeEndpoint: 'tcp://127.0.0.1:5571',
      dataDir: './data/ref',
      heartbeatIntervalMs: 1000,
      misses: 3,
      removeAfterMs: 300_000,
      maxKnown: 10_000,
      workerHeartbeatIntervalMs: 2500,
      workerLiveness: 3,
    });
    expect(logLevel).toBe('warn');
    expect(shutdownGraceMs).toBe(3000);
  });

  it('takes flags, and environment variables where no flag is given', () => {
    process.env['CORREIO_REF_DATA_DIR'] = '/var/lib/correio/ref';
    process.env['CORREIO_REF_MISSES'] = '5';
    process.env['CORREIO_REF_MAX_KNOWN'] = '2500';
    const { options, logLevel } = parseRefCommandLine(
      argv('--broker', 'tcp://10.0.0.1:6000', '--heartbeat', '2s', '--misses', '4', '--no-proxy', '--remove-after', '0', '--id', 'ref-1', '--http-port', '0', '--log-level', 'info'),
      quiet(),
    );
    expect(options).toEqual({
      broker: 'tcp://10.0.0.1:6000',
      dataDir: '/var/lib/correio/ref',
      heartbeatIntervalMs: 2000,
      misses: 4,
      removeAfterMs: 0,
      maxKnown: 2500,
      id: 'ref-1',
      workerHeartbeatIntervalMs: 2500,
      workerLiveness: 3,
      http: { port: 0, host: '127.0.0.1' },
    });
    expect(logLevel).toBe('info');
  });

  it('refuses bad values with a clear message', () => {
    expect(() => parseRefCommandLine(argv('--misses', '0'), quiet())).toThrow(/at least 1/);
    expect(() => parseRefCommandLine(argv('--broker', 'localhost:5555'), quiet())).toThrow(/ZeroMQ endpoint/);
    expect(() => parseRefCommandLine(argv('--id', 'has space'), quiet())).toThrow(/printable ASCII/);
    expect(() => parseRefCommandLine(argv('--max-known', '999'), quiet())).toThrow(/--max-known must be at least 1000/);
  });
});
