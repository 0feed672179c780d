import {
  Command,
  InvalidArgumentError,
  addCommonOptions,
  addCurveClientOptions,
  curveClientKeys,
  envOption,
  parseDurationMs,
  parseEndpoint,
  parseNonNegativeInt,
  parsePositiveInt,
} from '@correio/observability';
import { parseRate, type Rate } from '@correio/tasks';
import { generateCurveKeyPair } from '@correio/transport';
import { addClusterOptions, clusterOptionsFromCommandLine } from './cluster/clusterCommandLine.js';
import { parsePeerList, staticPeers } from './replication/peerList.js';
import { DEFAULT_CONCURRENCY, DEFAULT_DIRECT_CONCURRENCY } from './concurrency.js';
import type { StartServerOptions, VerifyMode } from './startServer.js';

export interface ServerCommandLine {
  readonly options: StartServerOptions;
  readonly logLevel: string;
  /** How long in-flight requests may finish after SIGTERM. */
  readonly shutdownGraceMs: number;
}

interface RawOptions {
  id: string;
  broker: string;
  proxyPub: string;
  proxySub: string;
  dataDir: string;
  concurrency: number;
  directConcurrency: number;
  verify: VerifyMode;
  pageSize: number;
  maxClockOffset: number;
  heartbeat: number;
  liveness: number;
  shutdownGrace: number;
  logLevel: string;
  httpPort?: number;
  httpHost: string;
  peers: string[];
  ackPeers: number;
  ackTimeout: number;
  sendAhead: 'on' | 'off';
  antiEntropy: number;
  logRetention: number;
  logMaxChars: number;
  logSyncInterval: number;
  taskReplicas: number;
  taskConcurrency: number;
  taskRateLimit: Map<string, Rate>;
  auth: 'password' | 'open';
  authKeys?: string;
  authIssuer: string;
  authAudience: string;
  authAccessTtl: number;
  authRefreshTtl: number;
  operators: string[];
  httpUrl?: string;
  peerBind?: string;
  peerEndpoint?: string;
}

/** The `correio-server` command line; every flag also reads a CORREIO_SERVER_* variable. */
export function serverCommand(): Command {
  const command = new Command('correio-server')
    .description(
      'Correio chat server: users, channels, publications and direct messages, stored durably (LMDB, fsync before every reply) and served ' +
        'on the broker services "chat" and "srv.<id>"; publications go out on the proxy. Prints "server ready <id> …" on stdout when it serves.',
    )
    .addOption(envOption('--id <id>', 'server id (1–128 printable ASCII): broker service srv.<id>, origin of its operations', 'CORREIO_SERVER_ID').argParser(parseNodeId).makeOptionMandatory())
    .addOption(envOption('--data-dir <dir>', 'store directory (created when missing); one server id per directory', 'CORREIO_SERVER_DATA_DIR').makeOptionMandatory())
    .addOption(envOption('--broker <endpoint>', 'the broker MDP endpoint', 'CORREIO_SERVER_BROKER').argParser(parseEndpoint).default('tcp://127.0.0.1:5555'))
    .addOption(envOption('--proxy-pub <endpoint>', "the proxy's publisher side (XSUB)", 'CORREIO_SERVER_PROXY_PUB').argParser(parseEndpoint).default('tcp://127.0.0.1:5570'))
    .addOption(envOption('--proxy-sub <endpoint>', "the proxy's subscriber side (XPUB)", 'CORREIO_SERVER_PROXY_SUB').argParser(parseEndpoint).default('tcp://127.0.0.1:5571'))
    .addOption(envOption('--concurrency <n>', 'requests served at once per broker service (chat, srv.<id>); concurrent writes share one disk sync', 'CORREIO_SERVER_CONCURRENCY').argParser(parsePositiveInt).default(DEFAULT_CONCURRENCY))
    .addOption(envOption('--direct-concurrency <n>', 'requests in flight per service on the direct endpoint (clients and peers straight to this server); past it they are refused as OVERLOADED', 'CORREIO_SERVER_DIRECT_CONCURRENCY').argParser(parsePositiveInt).default(DEFAULT_DIRECT_CONCURRENCY))
    .addOption(envOption('--verify <mode>', 'store check at start: full (every operation and index) or off', 'CORREIO_SERVER_VERIFY').choices(['full', 'off']).default('full'))
    .addOption(envOption('--page-size <n>', 'page size when a request gives no limit (1–500)', 'CORREIO_SERVER_PAGE_SIZE').argParser(parsePageSize).default(50))
    .addOption(envOption('--max-clock-offset <ms>', "refuse to start when the store's newest operation is stamped further ahead of this clock", 'CORREIO_SERVER_MAX_CLOCK_OFFSET').argParser(parseDurationMs).default(60_000))
    .addOption(envOption('--heartbeat <ms>', 'MDP heartbeat interval; must match the broker', 'CORREIO_SERVER_HEARTBEAT').argParser(parseDurationMs).default(2_500))
    .addOption(envOption('--liveness <n>', 'heartbeats the broker may miss before it is presumed dead', 'CORREIO_SERVER_LIVENESS').argParser(parsePositiveInt).default(3))
    .addOption(envOption('--shutdown-grace <ms>', 'on SIGTERM, how long in-flight requests may finish', 'CORREIO_SERVER_SHUTDOWN_GRACE').argParser(parseDurationMs).default(5_000))
    .addOption(envOption('--peers <ids>', 'the other servers to replicate with, comma-separated (s2,s3): a static list', 'CORREIO_SERVER_PEERS').argParser(parsePeers).default([]))
    .addOption(envOption('--ack-peers <k>', 'reply to a write only once k peers applied it durably (0: once durable here)', 'CORREIO_SERVER_ACK_PEERS').argParser(parseNonNegativeInt).default(0))
    .addOption(envOption('--ack-timeout <ms>', 'how long a write waits for its --ack-peers confirmations before a retryable error', 'CORREIO_SERVER_ACK_TIMEOUT').argParser(parseDurationMs).default(2_000))
    .addOption(
      envOption(
        '--send-ahead <mode>',
        'with --ack-peers, send a write to the peers while it commits here (on); off: once durable here (slower, and a server killed -9 writes again without first hearing from every listed server)',
        'CORREIO_SERVER_SEND_AHEAD',
      )
        .choices(['on', 'off'])
        .default('on'),
    )
    .addOption(envOption('--anti-entropy <ms>', "interval of the anti-entropy rounds (compare one random peer's digest, fetch what is missing)", 'CORREIO_SERVER_ANTI_ENTROPY').argParser(parseDurationMs).default(2_000))
    .addOption(envOption('--log-retention <duration>', 'central logs (the logs service): lines older than this are deleted', 'CORREIO_SERVER_LOG_RETENTION').argParser(parseDurationMs).default(7 * 86_400_000, '7d'))
    .addOption(envOption('--log-max-chars <n>', 'central logs: characters of stored lines (plus 200 a line) beyond which the oldest minutes are deleted', 'CORREIO_SERVER_LOG_MAX_CHARS').argParser(parsePositiveInt).default(500_000_000))
    .addOption(envOption('--task-replicas <n>', 'task queue: servers that hold a job change before it is acknowledged, this one included (as many as are live when fewer are)', 'CORREIO_SERVER_TASK_REPLICAS').argParser(parsePositiveInt).default(2))
    .addOption(envOption('--task-concurrency <n>', "task queue: worker connections serving the tasks service while this server coordinates (each workers' long poll holds one)", 'CORREIO_SERVER_TASK_CONCURRENCY').argParser(parsePositiveInt).default(128))
    .addOption(envOption('--task-rate-limit <limits>', 'task queue: per queue, leases at most at this rate across all workers, such as email=50/s,reports=10/m', 'CORREIO_SERVER_TASK_RATE_LIMIT').argParser(parseRateLimits).default(new Map(), 'none'))
    .addOption(envOption('--log-sync-interval <ms>', "central logs: interval of the anti-entropy rounds (compare one random peer's per-minute digests, fetch the minutes that differ)", 'CORREIO_SERVER_LOG_SYNC_INTERVAL').argParser(parseDurationMs).default(30_000))
    .addOption(
      envOption('--auth <mode>', 'password: every request acting as a user needs a token from a password login; open: the body user is believed (demos only: anyone who can reach the broker can act as any user)', 'CORREIO_SERVER_AUTH')
        .choices(['password', 'open'])
        .default('password'),
    )
    .addOption(envOption('--auth-keys <file>', 'the signing key-set file every server of the cluster shares (default <data-dir>/auth-keys.json, created on first start); reloaded on SIGHUP and when it changes', 'CORREIO_AUTH_KEYS'))
    .addOption(envOption('--auth-issuer <iss>', 'issuer (iss) of the tokens this cluster issues and accepts', 'CORREIO_AUTH_ISSUER').default('correio'))
    .addOption(envOption('--auth-audience <aud>', 'audience (aud) of the tokens this cluster issues and accepts', 'CORREIO_AUTH_AUDIENCE').default('correio'))
    .addOption(envOption('--auth-access-ttl <ms>', 'access-token lifetime', 'CORREIO_AUTH_ACCESS_TTL').argParser(parseDurationMs).default(15 * 60_000))
    .addOption(envOption('--auth-refresh-ttl <ms>', 'refresh-token lifetime', 'CORREIO_AUTH_REFRESH_TTL').argParser(parseDurationMs).default(7 * 86_400_000))
    .addOption(envOption('--operators <names>', 'users whose access tokens carry the operator role (may open a gateway\'s dashboard), comma-separated (ana,rui)', 'CORREIO_SERVER_OPERATORS').argParser(parseOperators).default([]))
    .addOption(
      envOption(
        '--peer-bind <endpoint>',
        "bind a direct endpoint for the other servers' srv.<id> requests, so replication, task and log copies skip the broker (\"off\": none; default: tcp://127.0.0.1:0 when the broker is on this machine and CURVE is off, else none)",
        'CORREIO_SERVER_PEER_BIND',
      ).argParser(parsePeerBind),
    )
    .addOption(envOption('--peer-endpoint <endpoint>', 'the address of --peer-bind that other servers connect to, registered with the reference server (default: the bound address)', 'CORREIO_SERVER_PEER_ENDPOINT').argParser(parseEndpoint))
    .addOption(
      envOption('--http-url <url>', 'where others reach this server\'s /health and /metrics, registered with the reference server for dashboards (default: the side port\'s address; http://<hostname>:<port> when it binds every interface)', 'CORREIO_SERVER_HTTP_URL').argParser(parseHttpUrl),
    );
  return addCommonOptions(addCurveClientOptions(addClusterOptions(command), 'CORREIO_SERVER'));
}

/** Parses argv (as process.argv) into server options; exits with a clear message on a bad flag. */
export function parseServerCommandLine(argv: readonly string[], command = serverCommand()): ServerCommandLine {
  command.parse([...argv]);
  const raw = command.opts<RawOptions>();
  const curve = curveClientKeys(command, generateCurveKeyPair);
  const options: StartServerOptions = {
    id: raw.id,
    dataDir: raw.dataDir,
    broker: raw.broker,
    proxy: { pub: raw.proxyPub, sub: raw.proxySub },
    concurrency: raw.concurrency,
    directConcurrency: raw.directConcurrency,
    verify: raw.verify,
    pageSize: raw.pageSize,
    maxClockOffsetMs: raw.maxClockOffset,
    heartbeat: { intervalMs: raw.heartbeat, liveness: raw.liveness },
    drainTimeoutMs: raw.shutdownGrace,
    // An explicit --peers list wins; without it, the live servers of the reference server's list.
    ...(raw.peers.length > 0 ? { peers: staticPeers(raw.id, raw.peers) } : {}),
    ...clusterOptionsFromCommandLine(raw),
    replication: { antiEntropyIntervalMs: raw.antiEntropy },
    ackPeers: raw.ackPeers,
    ackTimeoutMs: raw.ackTimeout,
    sendAhead: raw.sendAhead === 'on',
    logs: { maxAgeMs: raw.logRetention, maxChars: raw.logMaxChars, syncIntervalMs: raw.logSyncInterval },
    tasks: { replicas: raw.taskReplicas, concurrency: raw.taskConcurrency, rateLimits: raw.taskRateLimit },
    ...(curve ? { curve } : {}),
    auth: {
      mode: raw.auth,
      ...(raw.authKeys === undefined ? {} : { keysFile: raw.authKeys }),
      issuer: raw.authIssuer,
      audience: raw.authAudience,
      accessTtlMs: raw.authAccessTtl,
      refreshTtlMs: raw.authRefreshTtl,
      operators: raw.operators,
    },
    ...(raw.httpPort !== undefined ? { http: { port: raw.httpPort, host: raw.httpHost, ...(raw.httpUrl === undefined ? {} : { url: raw.httpUrl }) } } : {}),
  };
  return { options: { ...options, ...peerLinkOf(raw, command) }, logLevel: raw.logLevel, shutdownGraceMs: raw.shutdownGrace };
}

function parsePeerBind(value: string): string {
  return value === 'off' ? value : parseEndpoint(value);
}

/** --peer-bind and --peer-endpoint as the server's peerLink option (absent: its default). */
function peerLinkOf(raw: RawOptions, command: Command): Pick<StartServerOptions, 'peerLink'> {
  if (raw.peerBind === undefined) {
    if (raw.peerEndpoint !== undefined) command.error('error: --peer-endpoint needs --peer-bind, the endpoint to bind (such as tcp://0.0.0.0:5601)');
    return {};
  }
  if (raw.peerBind === 'off') return { peerLink: false };
  return { peerLink: { bind: raw.peerBind, ...(raw.peerEndpoint === undefined ? {} : { advertise: raw.peerEndpoint }) } };
}

function parseHttpUrl(value: string): string {
  if (!/^https?:\/\/[\x21-\x7e]{1,248}$/.test(value)) throw new InvalidArgumentError('an http:// or https:// URL, such as http://srv-1:9111.');
  return value.replace(/\/+$/, '');
}

function parseNodeId(value: string): string {
  if (!/^[\x21-\x7e]{1,128}$/.test(value)) throw new InvalidArgumentError('a server id is 1 to 128 printable ASCII characters, without spaces.');
  return value;
}

function parsePeers(value: string): string[] {
  try {
    return parsePeerList(value);
  } catch (error) {
    throw new InvalidArgumentError(`${(error as Error).message}.`);
  }
}

/** A user name, as defs.json `userName` defines it. */
const USER_NAME = /^[A-Za-z0-9_.-]{1,32}$/;

function parseOperators(value: string): string[] {
  const names = [...new Set(value.split(/[\s,]+/).filter((name) => name !== ''))];
  const bad = names.find((name) => !USER_NAME.test(name));
  if (bad !== undefined) throw new InvalidArgumentError(`${JSON.stringify(bad)} is not a user name (1–32 letters, digits, "_", "." or "-").`);
  return names;
}

function parsePageSize(value: string): number {
  const size = parsePositiveInt(value);
  if (size > 500) throw new InvalidArgumentError('a page holds at most 500 items.');
  return size;
}

/** `email=50/s,reports=10/m` → the rate of each queue. */
function parseRateLimits(value: string): Map<string, Rate> {
  const limits = new Map<string, Rate>();
  for (const entry of value.split(',').map((part) => part.trim()).filter(Boolean)) {
    const [queue, rate] = entry.split('=');
    if (!queue || rate === undefined) throw new InvalidArgumentError(`expected <queue>=<count>/<s|m|h>, such as email=50/s; got ${entry}`);
    try {
      limits.set(queue, parseRate(rate));
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  }
  return limits;
}
