import { Command, addCommonOptions, addCurveClientOptions, curveClientKeys, envOption, parseDurationMs, parseEndpoint, parsePositiveInt } from '@correio/observability';
import { generateCurveKeyPair } from '@correio/transport';
import { MAX_LISTED } from './ServerRegistry.js';
import type { StartRefOptions } from './startRef.js';

export interface RefCommandLine {
  readonly options: StartRefOptions;
  readonly logLevel: string;
  /** How long shutdown may take after SIGTERM before the process exits anyway. */
  readonly shutdownGraceMs: number;
}

interface RawOptions {
  broker: string;
  proxyPub?: string;
  proxySub?: string;
  proxy: boolean;
  dataDir: string;
  heartbeat: number;
  misses: number;
  removeAfter: number;
  maxKnown: number;
  id?: string;
  brokerHeartbeat: number;
  brokerLiveness: number;
  shutdownGrace: number;
  logLevel: string;
  httpPort?: number;
  httpHost: string;
}

/** The `correio-ref` command line; every flag also reads a CORREIO_REF_* variable. */
export function refCommand(): Command {
  const command = new Command('correio-ref')
    .description(
      'Correio reference server: gives each server a durable rank (same id, same rank, for good), takes heartbeats, ' +
        'marks silent servers down, publishes ref.membership events on the proxy and lists the servers with the latest ' +
        'coordinator. Prints "ref ready <id> data=<dir> next-rank=<n> [http=<url>]" on stdout when it serves.',
    )
    .addOption(envOption('--broker <endpoint>', 'the broker MDP endpoint to serve service "ref" on', 'CORREIO_REF_BROKER').argParser(parseEndpoint).default('tcp://127.0.0.1:5555'))
    .addOption(envOption('--proxy-pub <endpoint>', "the proxy's publisher side (XSUB), for ref.membership events", 'CORREIO_REF_PROXY_PUB').argParser(parseEndpoint).default('tcp://127.0.0.1:5570'))
    .addOption(envOption('--proxy-sub <endpoint>', "the proxy's subscriber side (XPUB), to follow election.coordinator", 'CORREIO_REF_PROXY_SUB').argParser(parseEndpoint).default('tcp://127.0.0.1:5571'))
    .option('--no-proxy', 'run without the proxy: publish no events, follow no elections')
    .addOption(envOption('--data-dir <dir>', 'directory of the durable registry (one reference server per directory)', 'CORREIO_REF_DATA_DIR').default('./data/ref'))
    .addOption(envOption('--heartbeat <ms>', 'the heartbeat period servers use', 'CORREIO_REF_HEARTBEAT').argParser(parseDurationMs).default(1000))
    .addOption(envOption('--misses <n>', 'heartbeats a server may miss before it is marked down', 'CORREIO_REF_MISSES').argParser(parsePositiveInt).default(3))
    .addOption(envOption('--remove-after <ms>', 'a server down this long leaves the list, keeping its rank (0: never)', 'CORREIO_REF_REMOVE_AFTER').argParser(parseNonNegativeMs).default(300_000))
    .addOption(
      envOption('--max-known <n>', 'servers remembered at most, listed or not (anyone can register): past it the unlisted one seen longest ago is forgotten, and gets a new rank if it returns; at least 1000, the listed maximum', 'CORREIO_REF_MAX_KNOWN')
        .argParser(parsePositiveInt)
        .default(10_000),
    )
    .addOption(envOption('--id <id>', 'the "from" of what the reference server sends (default ref-<host>-<pid>)', 'CORREIO_REF_ID'))
    .addOption(envOption('--broker-heartbeat <ms>', "MDP heartbeat interval with the broker: the broker's --heartbeat", 'CORREIO_REF_BROKER_HEARTBEAT').argParser(parseDurationMs).default(2500))
    .addOption(envOption('--broker-liveness <n>', "MDP heartbeats missed before the broker is presumed dead: the broker's --liveness", 'CORREIO_REF_BROKER_LIVENESS').argParser(parsePositiveInt).default(3))
    .addOption(envOption('--shutdown-grace <ms>', 'on SIGTERM, how long shutting down may take', 'CORREIO_REF_SHUTDOWN_GRACE').argParser(parseDurationMs).default(3_000));
  return addCommonOptions(addCurveClientOptions(command, 'CORREIO_REF'));
}

/** Parses argv (as process.argv) into reference server options; exits with a clear message on a bad flag. */
export function parseRefCommandLine(argv: readonly string[], command = refCommand()): RefCommandLine {
  command.parse([...argv]);
  const raw = command.opts<RawOptions>();
  if (raw.maxKnown < MAX_LISTED) command.error(`error: --max-known must be at least ${MAX_LISTED}, the listed maximum`);
  if (raw.id !== undefined && !/^[\x21-\x7e]{1,128}$/.test(raw.id)) command.error('error: --id must be 1 to 128 printable ASCII characters');
  const curve = curveClientKeys(command, generateCurveKeyPair);
  const options: StartRefOptions = {
    broker: raw.broker,
    ...(curve ? { curve } : {}),
    ...(raw.proxy && raw.proxyPub !== undefined ? { publishEndpoint: raw.proxyPub } : {}),
    ...(raw.proxy && raw.proxySub !== undefined ? { subscribeEndpoint: raw.proxySub } : {}),
    dataDir: raw.dataDir,
    heartbeatIntervalMs: raw.heartbeat,
    misses: raw.misses,
    removeAfterMs: raw.removeAfter,
    maxKnown: raw.maxKnown,
    ...(raw.id !== undefined ? { id: raw.id } : {}),
    workerHeartbeatIntervalMs: raw.brokerHeartbeat,
    workerLiveness: raw.brokerLiveness,
    ...(raw.httpPort !== undefined ? { http: { port: raw.httpPort, host: raw.httpHost } } : {}),
  };
  return { options, logLevel: raw.logLevel, shutdownGraceMs: raw.shutdownGrace };
}

function parseNonNegativeMs(value: string): number {
  if (/^\s*0\s*(ms|s|m)?\s*$/.test(value)) return 0;
  return parseDurationMs(value);
}
