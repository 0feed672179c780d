import { Command, InvalidArgumentError, LOG_LEVELS, envOption, parseDurationMs, parseNonNegativeInt } from '@correio/observability';
import { ConfigError } from '../config/ConfigError.js';
import type { CorreioConfig } from '../config/loadConfig.js';
import { runUp, type UpSettings } from './runUp.js';
import type { AuthMode } from './Topology.js';

interface RawUpOptions {
  config?: string;
  servers: number;
  bots: number;
  duration?: number;
  dataDir: string;
  fresh: boolean;
  host: string;
  freePorts: boolean;
  auth: AuthMode;
  brokerPort: number;
  publishersPort: number;
  subscribersPort: number;
  gatewayPort: number;
  httpPortBase: number;
  maxRestarts: number;
  readyTimeout: number;
  stopTimeout: number;
  summaryInterval: number;
  color: 'auto' | 'always' | 'never';
  logLevel?: string;
  clockSkew?: number;
}

export const UP_DEFAULTS = {
  servers: 3,
  bots: 2,
  dataDir: './tmp/correio-up',
  host: '127.0.0.1',
  brokerPort: 5555,
  publishersPort: 5570,
  subscribersPort: 5571,
  gatewayPort: 8080,
  httpPortBase: 9100,
  maxRestarts: 5,
  readyTimeoutMs: 60_000,
  stopTimeoutMs: 10_000,
  summaryIntervalMs: 2_000,
} as const;

/** `correio up`; `readConfig` loads the config file named by --config (or the root's, or CORREIO_CONFIG). */
export function upCommand(readConfig: (path: string | undefined) => CorreioConfig | undefined): Command {
  const command = new Command('up')
    .summary('run the whole topology here: broker, proxy, ref, servers, the gateway and traffic bots, supervised')
    .description(
      'Run the whole topology on this machine, no external services: broker and proxy, the reference server, N chat servers, ' +
        'the HTTP + WebSocket gateway and M traffic bots, each a supervised child process (prefixed logs, readiness in dependency order, a live summary, ' +
        'bounded restarts). Ctrl-C stops them all in reverse order and exits 0. Endpoints default to the programs\' own defaults, ' +
        'so `correio client` reaches this topology without flags.',
    )
    .addOption(envOption('--config <file>', 'config file (YAML or JSON); its "up" section and every program section apply', 'CORREIO_CONFIG'))
    .addOption(envOption('--servers <n>', 'chat servers (1–9), ids srv-1 … srv-N', 'CORREIO_UP_SERVERS').argParser(range(1, 9)).default(UP_DEFAULTS.servers))
    .addOption(envOption('--bots <n>', 'traffic bots (0–9), each `correio client bot`', 'CORREIO_UP_BOTS').argParser(range(0, 9)).default(UP_DEFAULTS.bots))
    .addOption(envOption('--duration <time>', 'stop everything after this long (a bare number is seconds: 20, 500ms, 2m)', 'CORREIO_UP_DURATION').argParser(parseSeconds))
    .addOption(envOption('--data-dir <dir>', 'data directories of the ref and the servers go under it', 'CORREIO_UP_DATA_DIR').default(UP_DEFAULTS.dataDir))
    .addOption(envOption('--fresh', 'empty the data directory first (new ranks, empty stores)', 'CORREIO_UP_FRESH').default(false))
    .addOption(envOption('--host <address>', 'address every component binds and is reached on', 'CORREIO_UP_HOST').default(UP_DEFAULTS.host))
    .addOption(envOption('--free-ports', 'let the OS choose every port (they are read from the readiness lines); for tests and side-by-side runs', 'CORREIO_UP_FREE_PORTS').default(false))
    .addOption(
      envOption(
        '--auth <mode>',
        'password: users register and log in with passwords, the servers share one signing key set made in the data directory; open: no accounts, anyone who can reach the broker acts as any user (demos only)',
        'CORREIO_UP_AUTH',
      )
        .choices(['password', 'open'])
        .default('password'),
    )
    .addOption(envOption('--broker-port <port>', 'the broker (MDP) port', 'CORREIO_UP_BROKER_PORT').argParser(port).default(UP_DEFAULTS.brokerPort))
    .addOption(envOption('--publishers-port <port>', "the proxy's publisher (XSUB) port", 'CORREIO_UP_PUBLISHERS_PORT').argParser(port).default(UP_DEFAULTS.publishersPort))
    .addOption(envOption('--subscribers-port <port>', "the proxy's subscriber (XPUB) port", 'CORREIO_UP_SUBSCRIBERS_PORT').argParser(port).default(UP_DEFAULTS.subscribersPort))
    .addOption(envOption('--gateway-port <port>', "the gateway's HTTP port (JSON API, /v1/stream, /docs)", 'CORREIO_UP_GATEWAY_PORT').argParser(port).default(UP_DEFAULTS.gatewayPort))
    .addOption(
      envOption('--http-port-base <port>', '/health and /metrics ports: broker base, proxy base+1, ref base+2, gateway base+3, server i base+10+i', 'CORREIO_UP_HTTP_PORT_BASE')
        .argParser(range(1, 65_500))
        .default(UP_DEFAULTS.httpPortBase),
    )
    .addOption(envOption('--max-restarts <n>', 'restarts per component within a minute before it is given up', 'CORREIO_UP_MAX_RESTARTS').argParser(parseNonNegativeInt).default(UP_DEFAULTS.maxRestarts))
    .addOption(envOption('--ready-timeout <ms>', 'how long each stage may take to become ready', 'CORREIO_UP_READY_TIMEOUT').argParser(parseDurationMs).default(UP_DEFAULTS.readyTimeoutMs))
    .addOption(envOption('--stop-timeout <ms>', 'how long a component may take to stop after SIGTERM before SIGKILL', 'CORREIO_UP_STOP_TIMEOUT').argParser(parseDurationMs).default(UP_DEFAULTS.stopTimeoutMs))
    .addOption(envOption('--summary-interval <ms>', 'how often the summary line is refreshed', 'CORREIO_UP_SUMMARY_INTERVAL').argParser(parseDurationMs).default(UP_DEFAULTS.summaryIntervalMs))
    .addOption(envOption('--color <when>', 'colour the output: auto (a terminal, unless NO_COLOR), always, never', 'CORREIO_UP_COLOR').choices(['auto', 'always', 'never']).default('auto'))
    .addOption(
      envOption('--clock-skew <ms>', "testing aid: start the servers' clocks spread over ±ms (srv-1 behind, srv-N ahead) to watch Berkeley pull them together", 'CORREIO_UP_CLOCK_SKEW')
        .argParser(parseDurationMs),
    )
    .addOption(envOption('--log-level <level>', "every component's log level (default: each program's own, warn)", 'CORREIO_UP_LOG_LEVEL').choices(LOG_LEVELS))
    .addHelpText(
      'after',
      '\nDefault ports: broker 5555, proxy 5570 (publishers) and 5571 (subscribers), HTTP 9100 (broker), 9101 (proxy), 9102 (ref), 9103 (gateway), ' +
        '9111… (srv-1…); the gateway serves HTTP on 8080. Endpoints, ports, ids and data directories are wired by `up`; every other setting of a program comes from ' +
        'its section of the config file or its own CORREIO_* variables, as when it runs alone.',
    );
  command.action(async (_options: RawUpOptions, self: Command) => {
    const raw = self.opts<RawUpOptions>();
    const config = readConfig(raw.config);
    applyConfigSection(self, config);
    const status = await runUp(settingsOf(self.opts<RawUpOptions>(), config));
    process.exit(status);
  });
  return command;
}

/**
 * The config file's `up` section, between the environment and the defaults: an option still at
 * its default takes the file's value, parsed by the option's own parser.
 */
function applyConfigSection(command: Command, config: CorreioConfig | undefined): void {
  const section = config?.sections.up;
  if (!section || !config) return;
  for (const option of command.options) {
    const key = option.attributeName();
    if (!(key in section) || key === 'config') continue;
    const source = command.getOptionValueSource(key);
    if (source !== undefined && source !== 'default') continue;
    const value = section[key];
    if (!option.required && !option.optional) {
      command.setOptionValueWithSource(key, value === true, 'config');
      continue;
    }
    try {
      const parsed: unknown = option.parseArg ? option.parseArg(String(value), undefined) : String(value);
      if (option.argChoices && !option.argChoices.includes(String(parsed))) throw new InvalidArgumentError(`expected one of ${option.argChoices.join(', ')}.`);
      command.setOptionValueWithSource(key, parsed, 'config');
    } catch (error) {
      throw new ConfigError(config.file, [{ key: `up.${key}`, message: error instanceof Error ? error.message : String(error) }]);
    }
  }
}

function settingsOf(raw: RawUpOptions, config: CorreioConfig | undefined): UpSettings {
  return {
    servers: raw.servers,
    bots: raw.bots,
    ...(raw.duration !== undefined ? { durationMs: raw.duration } : {}),
    dataDir: raw.dataDir,
    fresh: raw.fresh,
    host: raw.host,
    freePorts: raw.freePorts,
    auth: raw.auth,
    brokerPort: raw.brokerPort,
    publishersPort: raw.publishersPort,
    subscribersPort: raw.subscribersPort,
    gatewayPort: raw.gatewayPort,
    httpPortBase: raw.httpPortBase,
    maxRestarts: raw.maxRestarts,
    readyTimeoutMs: raw.readyTimeout,
    stopTimeoutMs: raw.stopTimeout,
    summaryIntervalMs: raw.summaryInterval,
    color: raw.color,
    ...(raw.logLevel !== undefined ? { logLevel: raw.logLevel } : {}),
    ...(raw.clockSkew !== undefined ? { clockSkewMs: raw.clockSkew } : {}),
    ...(config ? { config } : {}),
  };
}

function range(min: number, max: number): (value: string) => number {
  return (value) => {
    if (!/^\s*\d+\s*$/.test(value)) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}.`);
    const n = Number.parseInt(value, 10);
    if (n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}.`);
    return n;
  };
}

function port(value: string): number {
  return range(1, 65_535)(value);
}

/** A bare number is seconds (`--duration 20`), as for `correio client bot`. */
function parseSeconds(value: string): number {
  return /^\s*\d+(\.\d+)?\s*$/.test(value) ? parseDurationMs(`${value}s`) : parseDurationMs(value);
}
