import { Command, InvalidArgumentError, addCommonOptions, addCurveClientOptions, curveClientKeys, envOption, parseDurationMs, parseEndpoint, parseList, parseNonNegativeInt, parsePort, parsePositiveInt } from '@correio/observability';
import { generateCurveKeyPair } from '@correio/transport';
import { parseMonitors, type Monitor } from './dashboard/monitors.js';
import type { StartGatewayOptions } from './startGateway.js';

export interface GatewayCommandLine {
  readonly options: StartGatewayOptions;
  readonly logLevel: string;
  readonly drainMs: number;
}

interface RawOptions {
  broker: string;
  proxy: string;
  host: string;
  port: number;
  id?: string;
  service: string;
  auth: 'password' | 'open';
  services: string[];
  corsOrigins: string[];
  bodyLimit: number;
  rateIp: number;
  rateToken: number;
  rateWindow: number;
  maxSockets: number;
  maxChannels: number;
  socketBuffer: number;
  socketMessages: number;
  maxMessageSize: number;
  resumePages: number;
  resumeWindow: number;
  streamSettle: number;
  authTimeout: number;
  timeout: number;
  retries: number;
  trustProxies: number;
  drain: number;
  logLevel: string;
  httpPort?: number;
  httpHost: string;
  webRoot?: string;
  monitor: Monitor[];
  dashboardInterval: number;
}

/** The `correio-gateway` command line; every flag also reads a CORREIO_GATEWAY_* variable. */
export function gatewayCommand(): Command {
  const env = (name: string) => `CORREIO_GATEWAY_${name}`;
  const command = new Command('correio-gateway')
    .description(
      'HTTP + WebSocket gateway for Correio: a JSON API under /v1 (OpenAPI at /openapi.json, docs at /docs) and live events on /v1/stream, ' +
        'each request sent to the cluster through the broker with the caller\'s token. Prints "gateway ready url=… broker=… proxy=…" on stdout when it serves.',
    )
    .addOption(envOption('--broker <endpoint>', "the broker's MDP endpoint", env('BROKER')).argParser(parseEndpoint).default('tcp://127.0.0.1:5555'))
    .addOption(envOption('--proxy <endpoint>', "the proxy's subscriber (XPUB) endpoint", env('PROXY')).argParser(parseEndpoint).default('tcp://127.0.0.1:5571'))
    .addOption(envOption('--host <host>', 'address the HTTP server binds', env('HOST')).default('127.0.0.1'))
    .addOption(envOption('--port <port>', 'HTTP port (0: any free port)', env('PORT')).argParser(parsePort).default(8080))
    .addOption(envOption('--id <id>', 'the gateway\'s node id in envelopes (default gateway-<random>)', env('ID')))
    .addOption(envOption('--service <name>', 'the broker service of chat requests', env('SERVICE')).default('chat'))
    .addOption(
      envOption('--auth <mode>', 'password: streams need a token; open: a stream may name its user (for servers running --auth open; demos only)', env('AUTH'))
        .choices(['password', 'open'])
        .default('password'),
    )
    .addOption(envOption('--services <names>', 'comma-separated services POST /v1/services/{name} may call (none by default)', env('SERVICES')).argParser(parseList).default([]))
    .addOption(envOption('--cors-origins <origins>', 'comma-separated origins allowed by CORS, such as https://chat.example.org (none by default)', env('CORS_ORIGINS')).argParser(parseList).default([]))
    .addOption(envOption('--body-limit <bytes>', 'largest request body', env('BODY_LIMIT')).argParser(parsePositiveInt).default(65_536))
    .addOption(envOption('--rate-ip <n>', 'requests per window from one client address', env('RATE_IP')).argParser(parsePositiveInt).default(6_000))
    .addOption(envOption('--rate-token <n>', 'requests per window with one bearer token', env('RATE_TOKEN')).argParser(parsePositiveInt).default(1_200))
    .addOption(envOption('--rate-window <duration>', 'the rate limits\' window (ms, or 10s, 1m)', env('RATE_WINDOW')).argParser(parseDurationMs).default(60_000))
    .addOption(envOption('--max-sockets <n>', 'open WebSockets at most; further upgrades answer 503', env('MAX_SOCKETS')).argParser(parsePositiveInt).default(10_000))
    .addOption(envOption('--max-channels <n>', 'channels one WebSocket may subscribe to', env('MAX_CHANNELS')).argParser(parsePositiveInt).default(100))
    .addOption(envOption('--socket-buffer <bytes>', 'bytes queued on a WebSocket before it is closed as too slow (4408)', env('SOCKET_BUFFER')).argParser(parsePositiveInt).default(1_048_576))
    .addOption(envOption('--socket-messages <n>', 'messages per second a WebSocket client may send', env('SOCKET_MESSAGES')).argParser(parsePositiveInt).default(50))
    .addOption(envOption('--max-message-size <bytes>', 'largest WebSocket message from a client', env('MAX_MESSAGE_SIZE')).argParser(parsePositiveInt).default(16_384))
    .addOption(envOption('--resume-pages <n>', 'history pages (500 each) read at most to resume a stream', env('RESUME_PAGES')).argParser(parsePositiveInt).default(10))
    .addOption(
      envOption('--resume-window <duration>', 'how far a publication may sort before one already seen and still arrive after it (servers\' clock skew plus publish delay); resumes and recoveries read history back this far', env('RESUME_WINDOW'))
        .argParser(parseDurationMs)
        .default(5_000),
    )
    .addOption(
      envOption('--stream-settle <duration>', 'after a subscribe, live publications wait this long for one more history read (the subscription reaching the servers, replication between them)', env('STREAM_SETTLE'))
        .argParser(parseDurationMs)
        .default(1_000),
    )
    .addOption(envOption('--auth-timeout <duration>', 'time a new WebSocket has to send its auth message', env('AUTH_TIMEOUT')).argParser(parseDurationMs).default(10_000))
    .addOption(envOption('--timeout <duration>', 'per-attempt time-out of a request to the cluster', env('TIMEOUT')).argParser(parseDurationMs).default(3_000))
    .addOption(envOption('--retries <n>', 'attempts after the first, with the same request id', env('RETRIES')).argParser(parseNonNegativeInt).default(2))
    .addOption(envOption('--trust-proxies <n>', 'load balancers in front whose X-Forwarded-For is trusted (0: none)', env('TRUST_PROXIES')).argParser(parseNonNegativeInt).default(0))
    .addOption(envOption('--web-root <dir>', 'the built browser app served at / (default: apps/web/dist of this checkout)', env('WEB_ROOT')))
    .addOption(
      envOption('--monitor <kind=url>', "a process the operators' dashboard watches through its /health and /metrics: broker=, proxy= or ref=<http url>; repeatable, or comma-separated (the servers' URLs come from the reference server)", env('MONITOR'))
        .argParser((value: string, previous: Monitor[]) => {
          try {
            return parseMonitors(value, previous);
          } catch (error) {
            throw new InvalidArgumentError((error as Error).message);
          }
        })
        .default([]),
    )
    .addOption(envOption('--dashboard-interval <duration>', "how often the operators' dashboard (/v1/dashboard) is gathered and sent while one is open", env('DASHBOARD_INTERVAL')).argParser(parseDurationMs).default(1_000))
    .addOption(envOption('--drain <duration>', 'time SIGTERM gives requests in flight before exiting', env('DRAIN')).argParser(parseDurationMs).default(10_000));
  return addCommonOptions(addCurveClientOptions(command, 'CORREIO_GATEWAY'));
}

export function parseGatewayCommandLine(argv: readonly string[], command = gatewayCommand()): GatewayCommandLine {
  command.parse([...argv]);
  const raw = command.opts<RawOptions>();
  const curve = curveClientKeys(command, generateCurveKeyPair);
  return {
    logLevel: raw.logLevel,
    drainMs: raw.drain,
    options: {
      broker: raw.broker,
      proxy: raw.proxy,
      host: raw.host,
      port: raw.port,
      ...(raw.id !== undefined ? { id: raw.id } : {}),
      chatService: raw.service,
      auth: raw.auth,
      services: raw.services,
      corsOrigins: raw.corsOrigins,
      bodyLimit: raw.bodyLimit,
      rateLimits: { perIp: raw.rateIp, perToken: raw.rateToken, windowMs: raw.rateWindow },
      maxSockets: raw.maxSockets,
      maxMessageBytes: raw.maxMessageSize,
      stream: {
        authTimeoutMs: raw.authTimeout,
        maxChannels: raw.maxChannels,
        maxBufferedBytes: raw.socketBuffer,
        messagesPerSecond: raw.socketMessages,
        maxResumePages: raw.resumePages,
        resumeWindowMs: raw.resumeWindow,
        settleMs: raw.streamSettle,
      },
      requestTimeoutMs: raw.timeout,
      retries: raw.retries,
      trustedProxies: raw.trustProxies,
      ...(curve !== undefined ? { curve } : {}),
      ...(raw.webRoot !== undefined ? { webRoot: raw.webRoot } : {}),
      monitors: raw.monitor,
      dashboardIntervalMs: raw.dashboardInterval,
      ...(raw.httpPort !== undefined ? { http: { port: raw.httpPort, host: raw.httpHost } } : {}),
    },
  };
}
