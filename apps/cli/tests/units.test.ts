import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  CONFIG_EVENTS_ENV,
  CONFIG_SERVICE_ENV,
  LOG_SERVICE_ENV,
  HTTP_PORT_OFFSETS,
  LogPrinter,
  RestartPolicy,
  Topology,
  clockSpreadOf,
  environmentOf,
  figures,
  formatLogLine,
  parseConfig,
  parseReadiness,
  renderFigures,
  replicationLagOf,
  sectionCommand,
  takeConfigFlag,
  type ComponentSample,
  type ProgramName,
  type Sample,
} from '@correio/cli';

const topologySettings = {
  servers: 3,
  bots: 2,
  host: '127.0.0.1',
  freePorts: false,
  brokerPort: 5555,
  publishersPort: 5570,
  subscribersPort: 5571,
  httpPortBase: 9100,
  dataDir: '/var/lib/correio',
};

describe('Topology', () => {
  it('configures every component only through variables its program reads', () => {
    const topology = new Topology({ ...topologySettings, clockSkewMs: 1000, logLevel: 'info', config: parseConfig('ref:\n  heartbeat: 500\n  misses: 4\nbroker:\n  heartbeat: 1s\n', 'c.yaml', '/etc/c.yaml') });
    for (const spec of topology.components) {
      const known = new Set([...environmentOf(sectionCommand(spec.args[0] === 'bot' ? 'bot' : spec.program)).values(), 'CORREIO_CONFIG', CONFIG_SERVICE_ENV, CONFIG_EVENTS_ENV, LOG_SERVICE_ENV]);
      for (const variable of Object.keys(spec.env())) expect(known, `${spec.name}: ${variable}`).toContain(variable);
    }
  });

  it('wires the default ports and ids, and matches the heartbeats to the broker and the ref', () => {
    const config = parseConfig('ref:\n  heartbeat: 500\n  misses: 4\nbroker:\n  heartbeat: 1s\n  liveness: 5\n', 'c.yaml', '/etc/c.yaml');
    const topology = new Topology({ ...topologySettings, clockSkewMs: 1000, config });
    const env = (name: string) => topology.components.find((spec) => spec.name === name)!.env();
    expect(topology.stages.map((stage) => stage.map((spec) => spec.name))).toEqual([['broker', 'proxy'], ['ref'], ['srv-1', 'srv-2', 'srv-3', 'gateway'], ['bot-1', 'bot-2']]);
    expect(env('broker')).toMatchObject({ CORREIO_BROKER_ENDPOINT: 'tcp://127.0.0.1:5555', CORREIO_HTTP_PORT: '9100', CORREIO_CONFIG: '/etc/c.yaml' });
    expect(env('proxy')).toMatchObject({ CORREIO_PROXY_PUBLISHERS: 'tcp://127.0.0.1:5570', CORREIO_PROXY_SUBSCRIBERS: 'tcp://127.0.0.1:5571', CORREIO_HTTP_PORT: '9101' });
    expect(env('ref')).toMatchObject({ CORREIO_REF_DATA_DIR: '/var/lib/correio/ref', CORREIO_HTTP_PORT: '9102', CORREIO_REF_BROKER_HEARTBEAT: '1s', CORREIO_REF_BROKER_LIVENESS: '5' });
    expect(env('srv-2')).toMatchObject({
      CORREIO_SERVER_ID: 'srv-2',
      CORREIO_SERVER_DATA_DIR: '/var/lib/correio/srv-2',
      CORREIO_HTTP_PORT: String(9100 + HTTP_PORT_OFFSETS.server(2)),
      CORREIO_SERVER_HEARTBEAT: '1s',
      CORREIO_SERVER_REF_HEARTBEAT: '500',
      CORREIO_SERVER_REF_MISSES: '4',
      CORREIO_SERVER_CLOCK_SKEW_MS: '0',
    });
    expect(env('srv-1')['CORREIO_SERVER_CLOCK_SKEW_MS']).toBe('-1000');
    expect(env('srv-3')['CORREIO_SERVER_CLOCK_SKEW_MS']).toBe('1000');
    expect(env('proxy')).toMatchObject({ CORREIO_PROXY_MODE: 'guarded' });
    const metered = new Topology({ ...topologySettings, config: parseConfig('proxy:\n  mode: metered\n', 'm.yaml', '/etc/m.yaml') });
    expect(metered.components.find((spec) => spec.name === 'proxy')!.env()['CORREIO_PROXY_MODE']).toBeUndefined();
    expect(env('gateway')).toMatchObject({ CORREIO_GATEWAY_BROKER: 'tcp://127.0.0.1:5555', CORREIO_GATEWAY_PROXY: 'tcp://127.0.0.1:5571', CORREIO_GATEWAY_PORT: '8080', CORREIO_HTTP_PORT: '9103' });
    expect(env('bot-2')).toMatchObject({ CORREIO_BROKER: 'tcp://127.0.0.1:5555', CORREIO_PROXY_SUB: 'tcp://127.0.0.1:5571', CORREIO_CHAT_SERVICE: 'srv.srv-2' });
  });

  it('runs the servers and the gateway in password mode with one shared key set, or in open mode (same keys) when told', () => {
    const password = new Topology(topologySettings);
    const env = (topology: Topology, name: string) => topology.components.find((spec) => spec.name === name)!.env();
    for (const server of ['srv-1', 'srv-3']) expect(env(password, server)).toMatchObject({ CORREIO_SERVER_AUTH: 'password', CORREIO_AUTH_KEYS: '/var/lib/correio/auth-keys.json' });
    expect(env(password, 'gateway')).toMatchObject({ CORREIO_GATEWAY_AUTH: 'password' });
    const open = new Topology({ ...topologySettings, auth: 'open' });
    expect(env(open, 'srv-2')).toMatchObject({ CORREIO_SERVER_AUTH: 'open' });
    // Open mode issues tokens too: the servers still share one key set, so a token verifies on all of them.
    expect(env(open, 'srv-2')['CORREIO_AUTH_KEYS']).toBe('/var/lib/correio/auth-keys.json');
    expect(env(open, 'gateway')).toMatchObject({ CORREIO_GATEWAY_AUTH: 'open' });
    const config = parseConfig('server:\n  auth: open\n  authKeys: /elsewhere.json\n  authAccessTtl: 5m\n', 'c.yaml');
    expect(new Topology({ ...topologySettings, config }).overriddenKeys()).toEqual(['server.auth', 'server.authKeys']);
  });

  it('leaves to the config file what it only prefers, and says which keys it overrides', () => {
    const config = parseConfig('bot:\n  service: chat\n  duration: 5\nbroker:\n  endpoint: tcp://10.0.0.1:1\nserver:\n  dataDir: /x\n', 'c.yaml');
    const topology = new Topology({ ...topologySettings, config });
    const bot = topology.components.find((spec) => spec.name === 'bot-1')!.env();
    expect(bot['CORREIO_CHAT_SERVICE']).toBeUndefined();
    expect(bot['CORREIO_BOT_DURATION']).toBeUndefined();
    expect(topology.overriddenKeys()).toEqual(['broker.endpoint', 'server.dataDir']);
  });

  it('learns the ports the OS chose from the readiness lines, and keeps them for restarts', () => {
    const topology = new Topology({ ...topologySettings, freePorts: true });
    const broker = topology.components[0]!;
    expect(broker.env()).toMatchObject({ CORREIO_BROKER_ENDPOINT: 'tcp://127.0.0.1:*', CORREIO_HTTP_PORT: '0' });
    topology.learn('broker', parseReadiness('broker ready tcp://127.0.0.1:41234 http=http://127.0.0.1:40000'));
    topology.learn('proxy', parseReadiness('proxy ready publishers=tcp://127.0.0.1:1 subscribers=tcp://127.0.0.1:2 mode=native'));
    expect(broker.env()['CORREIO_BROKER_ENDPOINT']).toBe('tcp://127.0.0.1:41234');
    expect(topology.components.find((spec) => spec.name === 'srv-1')!.env()).toMatchObject({ CORREIO_SERVER_BROKER: 'tcp://127.0.0.1:41234', CORREIO_SERVER_PROXY_PUB: 'tcp://127.0.0.1:1', CORREIO_SERVER_PROXY_SUB: 'tcp://127.0.0.1:2' });
    // The gateway's dashboard watches the side ports they printed (the proxy printed none here).
    topology.learn('ref', parseReadiness('ref ready ref data=/d next-rank=1 http=http://127.0.0.1:40002'));
    expect(topology.components.find((spec) => spec.name === 'gateway')!.env()['CORREIO_GATEWAY_MONITOR']).toBe('broker=http://127.0.0.1:40000,ref=http://127.0.0.1:40002');
  });

  it('makes ana an operator of the dashboard unless the config or the environment names others', () => {
    const env = (topology: Topology) => topology.components.find((spec) => spec.name === 'srv-2')!.env();
    const plain = new Topology(topologySettings);
    expect(env(plain)['CORREIO_SERVER_OPERATORS']).toBe('ana');
    expect(plain.operators).toBe('ana');
    const configured = new Topology({ ...topologySettings, config: parseConfig('server:\n  operators: [rui, eva]\n', 'c.yaml') });
    expect(env(configured)['CORREIO_SERVER_OPERATORS']).toBeUndefined();
    expect(configured.operators).toBe('rui,eva');
    expect(configured.overriddenKeys()).toEqual([]);
    expect(new Topology({ ...topologySettings, config: parseConfig('gateway:\n  monitor: broker=http://10.0.0.1:1\n', 'c.yaml') }).overriddenKeys()).toEqual(['gateway.monitor']);
  });
});

describe('the summary', () => {
  const server = (name: string, health: Record<string, unknown>, polled?: { sent: number; received: number }): ComponentSample => ({
    name,
    program: 'server' satisfies ProgramName,
    state: 'ready',
    restarts: 0,
    health,
    ...(polled ? { polled } : {}),
  });

  it('computes messages per second from the servers, surviving a restarted counter', () => {
    const before: Sample = { at: 0, components: [server('srv-1', { committed: { publish: 100, direct: 20, login: 5 } }), server('srv-2', { committed: { publish: 50 } })] };
    const after: Sample = { at: 2_000, components: [server('srv-1', { committed: { publish: 160, direct: 30, login: 9 } }), server('srv-2', { committed: { publish: 4 } })] };
    expect(figures(before, after).messagesPerSecond).toBe((70 + 4) / 2);
    expect(figures(undefined, after).messagesPerSecond).toBeUndefined();
  });

  it('takes the coordinator from the ref, else from the servers', () => {
    const ref: ComponentSample = { name: 'ref', program: 'ref', state: 'ready', restarts: 0, health: { coordinator: 'srv-3' } };
    expect(figures(undefined, { at: 0, components: [ref] }).coordinator).toBe('srv-3');
    expect(figures(undefined, { at: 0, components: [{ ...ref, health: { coordinator: null } }] }).coordinator).toBeNull();
    expect(figures(undefined, { at: 0, components: [server('srv-1', { cluster: { coordinator: { server: 'srv-2', rank: 2, term: 4 } } })] }).coordinator).toBe('srv-2');
    expect(figures(undefined, { at: 0, components: [server('srv-1', {})] }).coordinator).toBeUndefined();
  });

  it('measures replication lag as the servers report it, else from their digests', () => {
    expect(replicationLagOf([{ id: 'a', health: { replication: { peers: [{ peer: 'b', ahead: 3 }, { peer: 'c', ahead: 7 }] } } }])).toBe(7);
    const digest = (hwm: Record<string, number>) => ({ store: { hwm } });
    expect(replicationLagOf([{ id: 'a', health: digest({ a: 10 }) }, { id: 'b', health: digest({ b: 4 }) }])).toBeUndefined();
    expect(replicationLagOf([{ id: 'a', health: digest({ a: 10, b: 4 }) }, { id: 'b', health: digest({ a: 6, b: 4 }) }])).toBe(4);
  });

  it('measures the clock spread against this clock at the middle of each round trip', () => {
    const at = (now: number, sent: number, received: number) => ({ health: { clock: { now } }, polled: { sent, received } });
    // a is 10 ms ahead, b 5 ms behind: 15 ms apart, whatever the polling delays.
    expect(clockSpreadOf([at(1_010, 999, 1_001), at(2_095, 2_098, 2_102)])).toBe(15);
    expect(clockSpreadOf([{ health: { clock: { offsetMs: 3 } } }, { health: { clock: { offsetMs: -2 } } }])).toBe(5);
    expect(clockSpreadOf([at(1, 0, 2)])).toBeUndefined();
  });

  it('renders n/a for what nothing reports', () => {
    const line = renderFigures({ ready: 7, total: 8, notReady: ['srv-2 backoff'], restarts: 1 }, 65_000);
    expect(line).toBe('1:05 | 7/8 ready (srv-2 backoff) | n/a msg/s | coordinator n/a | replication lag n/a | clock spread n/a | 1 restart');
    expect(renderFigures({ ready: 8, total: 8, notReady: [], messagesPerSecond: 39.96, coordinator: null, replicationLag: 0, clockSpreadMs: 1.4, restarts: 0 }, 9_000)).toBe(
      '0:09 | 8/8 ready | 40.0 msg/s | coordinator none yet | replication lag 0 ops | clock spread 1 ms',
    );
  });
});

describe('RestartPolicy', () => {
  it('backs off exponentially and gives up after maxRestarts within the window', () => {
    const policy = new RestartPolicy({ maxRestarts: 3, windowMs: 60_000 });
    expect([policy.next(0), policy.next(1_000), policy.next(2_000), policy.next(3_000)]).toEqual([500, 1_000, 2_000, undefined]);
    expect(policy.total).toBe(3);
    // Once the window has moved past the old crashes, the count starts again.
    expect(policy.next(70_000)).toBe(500);
    expect(new RestartPolicy({ maxRestarts: 0 }).next(0)).toBeUndefined();
  });
});

describe('output', () => {
  it('shortens pino lines and leaves anything else alone', () => {
    const line = JSON.stringify({ level: 40, time: '2026-01-01T00:00:00.000Z', pid: 1, hostname: 'h', name: 'ref', server: 'srv-2', rank: 2, msg: 'server down' });
    expect(formatLogLine(line, false)).toBe('WARN server down server=srv-2 rank=2');
    expect(formatLogLine(JSON.stringify({ level: 50, msg: 'failed', err: { type: 'Error', message: 'disk full', stack: 'at x' } }), false)).toBe('ERROR failed err="disk full"');
    expect(formatLogLine('broker ready tcp://127.0.0.1:5555', false)).toBe('broker ready tcp://127.0.0.1:5555');
    expect(formatLogLine('{not json', false)).toBe('{not json');
  });

  it('prefixes lines, with colour only on a terminal and never with NO_COLOR', () => {
    const plain = new PassThrough();
    const printer = new LogPrinter({ out: plain, env: {} });
    printer.register(['broker', 'srv-1']);
    printer.line('srv-1', 'hello');
    printer.status('0:01 | 1/1 ready');
    expect(plain.read()!.toString()).toBe('[srv-1]  hello\n[up]     0:01 | 1/1 ready\n');
    expect(printer.colored).toBe(false);
    const tty = Object.assign(new PassThrough(), { isTTY: true, columns: 80 });
    expect(new LogPrinter({ out: tty, env: {} }).colored).toBe(true);
    expect(new LogPrinter({ out: tty, env: { NO_COLOR: '1' } }).colored).toBe(false);
    expect(new LogPrinter({ out: tty, env: {}, color: 'never' }).colored).toBe(false);
    const coloured = new LogPrinter({ out: tty, env: {} });
    coloured.status('status');
    coloured.line('x', 'a line');
    // On a terminal the status line is cleared, the log line printed, and the status redrawn below it.
    expect(tty.read()!.toString()).toBe('\r\x1b[2K\x1b[1m[up]    \x1b[0m status\r\x1b[2K\x1b[36m[x]     \x1b[0m a line\n\x1b[1m[up]    \x1b[0m status');
  });
});

describe('takeConfigFlag', () => {
  it('takes --config out of a program\'s flags, in either form, and stops at --', () => {
    expect(takeConfigFlag(['--heartbeat', '1s', '--config', 'a.yaml', '--id', 'b'])).toEqual({ path: 'a.yaml', rest: ['--heartbeat', '1s', '--id', 'b'] });
    expect(takeConfigFlag(['--config=b.yaml'])).toEqual({ path: 'b.yaml', rest: [] });
    expect(takeConfigFlag(['--', '--config', 'c'])).toEqual({ path: undefined, rest: ['--', '--config', 'c'] });
    expect(() => takeConfigFlag(['--config'])).toThrow('--config needs a file name');
  });
});
