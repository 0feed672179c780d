import {
  Command,
  addCommonOptions,
  addCurveServerOptions,
  curveServerKey,
  envOption,
  parseDurationMs,
  parseEndpoint,
  parseList,
  parsePositiveInt,
  parseNonNegativeInt,
} from '@correio/observability';
import { BROKER_DEFAULTS } from '@correio/transport';
import type { StartBrokerOptions } from './startBroker.js';

export interface BrokerCommandLine {
  readonly options: StartBrokerOptions;
  readonly logLevel: string;
  /** How long in-flight requests may finish after SIGTERM. */
  readonly shutdownGraceMs: number;
}

interface RawOptions {
  endpoint: string[];
  id?: string;
  heartbeat: number;
  liveness: number;
  deadline: number;
  maxQueue: number;
  maxQueueTotal: number;
  idempotent: string[];
  startupGrace?: number;
  maxMessageSize: number;
  hwm: number;
  maxServices: number;
  maxWorkers: number;
  serviceExpiry: number;
  maxStuckConnections: number;
  stuckCheckInterval: number;
  seedFrontend?: string;
  seedBackend?: string;
  shutdownGrace: number;
  logLevel: string;
  httpPort?: number;
  httpHost: string;
}

/** The `correio-broker` command line; every flag also reads a CORREIO_BROKER_* variable. */
export function brokerCommand(): Command {
  const command = new Command('correio-broker')
    .description(
      'Majordomo (MDP/0.2, ZeroMQ RFC 18) broker for Correio: one ROUTER socket for clients and workers, MMI service discovery, ' +
        'and optionally the seed-compatible plain REQ/REP queue. Prints "broker ready <endpoint> …" on stdout when it serves.',
    )
    .addOption(
      envOption('--endpoint <endpoint...>', 'MDP endpoint(s) to bind (tcp://*:5555 for every interface)', 'CORREIO_BROKER_ENDPOINT')
        .argParser(collectEndpoints)
        .default(['tcp://127.0.0.1:5555']),
    )
    .addOption(envOption('--id <id>', 'broker id, the "from" of its error replies (default broker-<host>-<pid>)', 'CORREIO_BROKER_ID'))
    .addOption(envOption('--heartbeat <ms>', 'heartbeat interval', 'CORREIO_BROKER_HEARTBEAT').argParser(parseDurationMs).default(BROKER_DEFAULTS.heartbeatIntervalMs))
    .addOption(envOption('--liveness <n>', 'heartbeats a worker may miss before it is dropped', 'CORREIO_BROKER_LIVENESS').argParser(parsePositiveInt).default(BROKER_DEFAULTS.liveness))
    .addOption(envOption('--deadline <ms>', 'how long a request may wait for a worker', 'CORREIO_BROKER_DEADLINE').argParser(parseDurationMs).default(BROKER_DEFAULTS.requestDeadlineMs))
    .addOption(envOption('--max-queue <n>', 'queued requests per service before OVERLOADED', 'CORREIO_BROKER_MAX_QUEUE').argParser(parsePositiveInt).default(BROKER_DEFAULTS.maxQueuePerService))
    .addOption(envOption('--max-queue-total <n>', 'queued requests in all before OVERLOADED', 'CORREIO_BROKER_MAX_QUEUE_TOTAL').argParser(parsePositiveInt).default(BROKER_DEFAULTS.maxQueueTotal))
    .addOption(envOption('--idempotent <services>', "comma-separated services whose dead workers' requests are re-dispatched once", 'CORREIO_BROKER_IDEMPOTENT').argParser(parseList).default([]))
    .addOption(envOption('--startup-grace <ms>', 'after start, how long requests for unseen services wait (default heartbeat × liveness)', 'CORREIO_BROKER_STARTUP_GRACE').argParser(parseNonNegativeMs))
    .addOption(envOption('--max-message-size <bytes>', 'largest inbound frame; larger ones disconnect their sender', 'CORREIO_BROKER_MAX_MESSAGE_SIZE').argParser(parsePositiveInt).default(BROKER_DEFAULTS.maxMessageSize))
    .addOption(envOption('--hwm <n>', 'per-peer send and receive high-water mark', 'CORREIO_BROKER_HWM').argParser(parseNonNegativeInt).default(BROKER_DEFAULTS.highWaterMark))
    .addOption(
      envOption('--max-services <n>', 'services tracked at once; at the bound a new one replaces the longest workerless one, else READY is refused', 'CORREIO_BROKER_MAX_SERVICES')
        .argParser(parsePositiveInt)
        .default(BROKER_DEFAULTS.maxServices),
    )
    .addOption(envOption('--max-workers <n>', 'registered worker connections at once; READY beyond it is refused', 'CORREIO_BROKER_MAX_WORKERS').argParser(parsePositiveInt).default(BROKER_DEFAULTS.maxWorkers))
    .addOption(
      envOption('--service-expiry <ms>', 'how long a service with no worker is remembered (UNAVAILABLE rather than UNKNOWN_SERVICE)', 'CORREIO_BROKER_SERVICE_EXPIRY')
        .argParser(parseDurationMs)
        .default(BROKER_DEFAULTS.serviceExpiryMs),
    )
    .addOption(
      envOption(
        '--max-stuck-connections <n>',
        'connections libzmq left open after routing-id collisions (CLOSE_WAIT, Linux) per TCP endpoint before it is bound again, which makes every peer on it reconnect; 0: never',
        'CORREIO_BROKER_MAX_STUCK_CONNECTIONS',
      )
        .argParser(parseNonNegativeInt)
        .default(BROKER_DEFAULTS.maxStuckConnections),
    )
    .addOption(
      envOption('--stuck-check-interval <ms>', 'how often stuck connections are counted (twice in a row at the bound rebinds)', 'CORREIO_BROKER_STUCK_CHECK_INTERVAL')
        .argParser(parseDurationMs)
        .default(BROKER_DEFAULTS.stuckCheckIntervalMs),
    )
    .addOption(envOption('--seed-frontend <endpoint>', 'seed-compatible queue: where plain REQ clients connect', 'CORREIO_BROKER_SEED_FRONTEND').argParser(parseEndpoint))
    .addOption(envOption('--seed-backend <endpoint>', 'seed-compatible queue: where plain REP servers connect', 'CORREIO_BROKER_SEED_BACKEND').argParser(parseEndpoint));
  addCurveServerOptions(command, 'CORREIO_BROKER');
  command.addOption(envOption('--shutdown-grace <ms>', 'on SIGTERM, how long in-flight requests may finish', 'CORREIO_BROKER_SHUTDOWN_GRACE').argParser(parseNonNegativeMs).default(1_000));
  return addCommonOptions(command);
}

/** Parses argv (as process.argv) into broker options; exits with a clear message on a bad flag. */
export function parseBrokerCommandLine(argv: readonly string[], command = brokerCommand()): BrokerCommandLine {
  command.parse([...argv]);
  const raw = command.opts<RawOptions>();
  if ((raw.seedFrontend === undefined) !== (raw.seedBackend === undefined)) {
    command.error('error: --seed-frontend and --seed-backend go together; give both or neither');
  }
  const curve = curveServerKey(command);
  const options: StartBrokerOptions = {
    endpoints: raw.endpoint,
    ...(raw.id !== undefined ? { id: raw.id } : {}),
    heartbeatIntervalMs: raw.heartbeat,
    liveness: raw.liveness,
    requestDeadlineMs: raw.deadline,
    maxQueuePerService: raw.maxQueue,
    maxQueueTotal: raw.maxQueueTotal,
    idempotentServices: raw.idempotent,
    ...(raw.startupGrace !== undefined ? { startupGraceMs: raw.startupGrace } : {}),
    maxMessageSize: raw.maxMessageSize,
    highWaterMark: raw.hwm,
    maxServices: raw.maxServices,
    maxWorkers: raw.maxWorkers,
    serviceExpiryMs: raw.serviceExpiry,
    maxStuckConnections: raw.maxStuckConnections,
    stuckCheckIntervalMs: raw.stuckCheckInterval,
    ...(raw.seedFrontend !== undefined && raw.seedBackend !== undefined ? { seed: { frontend: raw.seedFrontend, backend: raw.seedBackend } } : {}),
    ...(curve !== undefined ? { curve: { server: true, ...curve } } : {}),
    ...(raw.httpPort !== undefined ? { http: { port: raw.httpPort, host: raw.httpHost } } : {}),
  };
  return { options, logLevel: raw.logLevel, shutdownGraceMs: raw.shutdownGrace };
}

/** Repeated --endpoint flags accumulate; the default is replaced by the first one given. */
function collectEndpoints(value: string, previous: string[] | undefined): string[] {
  const endpoints = parseList(value).map(parseEndpoint);
  const isDefault = previous !== undefined && previous.length === 1 && previous[0] === 'tcp://127.0.0.1:5555';
  return isDefault || previous === undefined ? endpoints : [...previous, ...endpoints];
}

function parseNonNegativeMs(value: string): number {
  if (/^\s*0\s*(ms|s|m)?\s*$/.test(value)) return 0;
  return parseDurationMs(value);
}
