// The broker's command line and in-process start, as an operator and the future `correio` CLI use them.
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@correio/observability';
import { brokerCommand, parseBrokerCommandLine, startBroker, type RunningBroker } from '@correio/broker';
import { freePort, killAll, spawnProgram } from '@correio/testing';
import { brokerMain, startBrokerProcess } from './helpers/children.js';

const quiet = createLogger('broker', { level: 'silent' });
let running: RunningBroker | undefined;

afterEach(async () => {
  await running?.close();
  running = undefined;
  await killAll();
});

function parse(args: string[], env: NodeJS.ProcessEnv = {}) {
  const saved = process.env;
  process.env = { ...env };
  try {
    return parseBrokerCommandLine(['node', 'main.ts', ...args], brokerCommand().exitOverride().configureOutput({ writeErr: () => undefined }));
  } finally {
    process.env = saved;
  }
}

describe('broker command line', () => {
  it('has documented defaults', () => {
    const { options, logLevel, shutdownGraceMs } = parse([]);
    expect(options).toMatchObject({
      endpoints: ['tcp://127.0.0.1:5555'],
      heartbeatIntervalMs: 2500,
      liveness: 3,
      requestDeadlineMs: 5000,
      maxQueuePerService: 1000,
      maxQueueTotal: 10000,
      idempotentServices: [],
      maxMessageSize: 1048576,
    });
    expect(options.seed).toBeUndefined();
    expect(options.http).toBeUndefined();
    expect(options.curve).toBeUndefined();
    expect(logLevel).toBe('warn');
    expect(shutdownGraceMs).toBe(1000);
  });

  it('reads flags, and CORREIO_BROKER_* variables when a flag is absent', () => {
    const { options } = parse(['--endpoint', 'tcp://127.0.0.1:7000', '--endpoint', 'ipc:///tmp/b.sock', '--idempotent', 'a, b', '--deadline', '2s', '--http-port', '0'], {
      CORREIO_BROKER_HEARTBEAT: '500',
      CORREIO_BROKER_SEED_FRONTEND: 'tcp://127.0.0.1:7001',
      CORREIO_BROKER_SEED_BACKEND: 'tcp://127.0.0.1:7002',
      CORREIO_BROKER_CURVE_SECRET_KEY: 'JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6',
    });
    expect(options).toMatchObject({
      endpoints: ['tcp://127.0.0.1:7000', 'ipc:///tmp/b.sock'],
      idempotentServices: ['a', 'b'],
      requestDeadlineMs: 2000,
      heartbeatIntervalMs: 500,
      seed: { frontend: 'tcp://127.0.0.1:7001', backend: 'tcp://127.0.0.1:7002' },
      curve: { server: true, secretKey: 'JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6' },
      http: { port: 0, host: '127.0.0.1' },
    });
  });

  it('prints help with every flag and its variable, and exits 0', async () => {
    const child = spawnProgram('broker --help', brokerMain, ['--help']);
    expect((await child.exited).code).toBe(0);
    const help = child.lines.join(' ').replace(/\s+/g, ' ');
    for (const flag of ['--endpoint', '--heartbeat', '--liveness', '--deadline', '--max-queue', '--idempotent', '--seed-frontend', '--curve-secret-key', '--log-level', '--http-port']) {
      expect(help).toContain(flag);
    }
    expect(help).toContain('env: CORREIO_BROKER_HEARTBEAT');
  });

  it.each([
    [['--heartbeat', 'soon'], /option '--heartbeat <ms>' argument 'soon' is invalid. expected a duration/],
    [['--seed-frontend', 'tcp://127.0.0.1:1'], /--seed-frontend and --seed-backend go together/],
    [['--endpoint', 'localhost:5555'], /expected a ZeroMQ endpoint/],
    [['--curve-secret-key', 'nope'], /40-character Z85 CURVE key/],
    [['--log-level', 'loud'], /Allowed choices are fatal, error, warn/],
  ])('refuses %j with a clear message and status 1', async (args, message) => {
    const child = spawnProgram('broker bad flags', brokerMain, args);
    expect((await child.exited).code).toBe(1);
    expect(child.stderr).toMatch(message);
  });

  it('says so in one line when its port is taken', async () => {
    const first = await startBrokerProcess(['--endpoint', `tcp://127.0.0.1:${await freePort()}`]);
    const child = spawnProgram('second broker', brokerMain, ['--endpoint', first.endpoint]);
    expect((await child.exited).code).toBe(1);
    expect(child.stderr.trim()).toMatch(/^correio-broker: .*(in use|EADDRINUSE)/i);
  });
});

describe('startBroker (in process)', () => {
  it('starts the broker, the seed queue and the side port, and reports ready', async () => {
    running = await startBroker({
      endpoints: ['tcp://127.0.0.1:*'],
      seed: { frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*' },
      http: { port: 0 },
      logger: quiet,
    });
    expect(running.readyLine).toMatch(/^broker ready tcp:\/\/127\.0\.0\.1:\d+ seed-frontend=tcp:\/\/127\.0\.0\.1:\d+ seed-backend=tcp:\/\/127\.0\.0\.1:\d+ http=http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${running.sidecar!.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ version: expect.stringMatching(/^\d+\.\d+\.\d+/), ready: true, status: 'ok', workers: 0, queued: 0, inFlight: 0, services: 0 });
    const metrics = await (await fetch(`${running.sidecar!.url}/metrics`)).text();
    expect(metrics).toContain('# TYPE correio_broker_request_duration_seconds histogram');
    await running.close();
    expect(running.broker.snapshot().state).toBe('closed');
  });
});
