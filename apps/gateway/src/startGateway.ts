import { createHash, randomBytes } from 'node:crypto';
import { CorreioError } from '@correio/codec';
import { registerLiveSetting } from '@correio/config';
import { createLogger, createMetrics, packageVersion, startHttpSidecar, type CurveClientKeySet, type HttpSidecar, type Logger, type MetricsRegistry } from '@correio/observability';
import fastifyCors from '@fastify/cors';
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { DashboardConnection } from './dashboard/DashboardConnection.js';
import { DashboardFeed } from './dashboard/DashboardFeed.js';
import type { Monitor } from './dashboard/monitors.js';
import { gatewayMetrics } from './gatewayMetrics.js';
import { bearerAuth } from './http/bearerAuth.js';
import { chatRoutes } from './http/chatRoutes.js';
import { gatewayError, httpError, type HttpError } from './http/httpErrors.js';
import { openApiDocument } from './http/openApiDocument.js';
import { requestBody } from './http/requestBody.js';
import { registerServiceRoutes } from './http/serviceRoutes.js';
import { defaultWebRoot, registerWebApp } from './http/webApp.js';
import { CLOSE } from './stream/closeCodes.js';
import { StreamConnection, type StreamLimits } from './stream/StreamConnection.js';
import { TopicHub } from './stream/TopicHub.js';
import { Upstream } from './Upstream.js';

export interface RateLimits {
  /** Requests per window from one client address (every request but /health and /metrics). */
  readonly perIp: number;
  /** Requests per window with one bearer token. */
  readonly perToken: number;
  readonly windowMs: number;
}

export interface StartGatewayOptions {
  /** The broker's MDP endpoint. */
  readonly broker: string;
  /** The proxy's subscriber (XPUB) endpoint. */
  readonly proxy: string;
  readonly host: string;
  /** 0 picks a free port; read it back from `url`. */
  readonly port: number;
  /** The `from` of the gateway's envelopes; `gateway-<random>` by default. */
  readonly id?: string;
  /** The broker service of chat requests. */
  readonly chatService?: string;
  /** open: WebSockets may name a user without a token (for clusters whose servers run --auth open). */
  readonly auth: 'password' | 'open';
  /** Services `POST /v1/services/{name}` may call. */
  readonly services: readonly string[];
  /** Origins allowed by CORS (exact, such as https://chat.example.org); none: no CORS headers. */
  readonly corsOrigins: readonly string[];
  /** Largest request body, bytes. */
  readonly bodyLimit: number;
  readonly rateLimits: RateLimits;
  /** Open WebSockets at most; further upgrades answer 503. */
  readonly maxSockets: number;
  readonly stream: StreamLimits;
  /** Largest WebSocket message from a client, bytes. */
  readonly maxMessageBytes: number;
  /** Per-attempt MDP time-out and retries (same request id). */
  readonly requestTimeoutMs: number;
  readonly retries: number;
  /** Trust X-Forwarded-For from this many proxies in front (0: the socket's address is the client's). */
  readonly trustedProxies: number;
  readonly curve?: CurveClientKeySet;
  /** A side port for /health and /metrics only (they are on the main port too), for a monitoring network. */
  readonly http?: { readonly port: number; readonly host?: string };
  /** Broker, proxy and reference server, by their /health + /metrics URLs, for the operators' dashboard (the servers come from the reference server). */
  readonly monitors?: readonly Monitor[];
  /** How often the dashboard is gathered and sent, while an operator watches; 1,000 ms by default. */
  readonly dashboardIntervalMs?: number;
  /** The built browser app served at / (apps/web/dist by default). */
  readonly webRoot?: string;
  readonly logger?: Logger;
  readonly metrics?: MetricsRegistry;
}

export interface RunningGateway {
  /** `http://host:port`. */
  readonly url: string;
  /** `gateway ready url=<url> http=<url> broker=<endpoint> proxy=<endpoint>` (http: where /health is, the side port when there is one) */
  readonly readyLine: string;
  readonly app: FastifyInstance;
  readonly metrics: MetricsRegistry;
  /** Stops accepting, tells every WebSocket to reconnect (1012), finishes requests in flight, closes. */
  close(): Promise<void>;
}

const version = packageVersion(import.meta.url);

/** A connection without a byte either way for this long is closed (a long poll stretches its own). */
const CONNECTION_TIMEOUT_MS = 30_000;

/** Each /health, /metrics and ref.servers request of a dashboard gather: a process that hangs costs one bounded wait. */
const DASHBOARD_FETCH_TIMEOUT_MS = 800;
/** A larger /metrics or /health answer is not read. */
const DASHBOARD_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** Starts the HTTP + WebSocket gateway in this process. */
export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  const logger = options.logger ?? createLogger('gateway');
  const metrics = options.metrics ?? createMetrics();
  const chatService = options.chatService ?? 'chat';
  const id = options.id ?? `gateway-${randomBytes(6).toString('base64url')}`;
  const upstream = new Upstream({
    broker: options.broker,
    from: id,
    timeout: options.requestTimeoutMs,
    retries: options.retries,
    maxInFlight: 10_000,
    ...(options.curve ? { curve: options.curve.broker } : {}),
    logger,
  });
  const hub = new TopicHub({ proxy: options.proxy, ...(options.curve ? { curve: options.curve.proxy } : {}), logger });
  const connections = new Set<StreamConnection>();
  const dashboards = new Set<DashboardConnection>();
  const sockets = () => connections.size + dashboards.size;
  const counters = gatewayMetrics(metrics, () => ({ sockets: sockets(), topics: hub.topics, upstreamInFlight: upstream.stats.inFlight }));
  let draining = false;
  /** Where this gateway's /health and /metrics are: known once it listens. */
  let monitoringUrl = '';
  const feed = new DashboardFeed({
    id,
    upstream,
    hub,
    monitors: options.monitors ?? [],
    intervalMs: options.dashboardIntervalMs ?? 1_000,
    fetch: { timeoutMs: DASHBOARD_FETCH_TIMEOUT_MS, maxBytes: DASHBOARD_MAX_RESPONSE_BYTES },
    self: async () => ({ health: health(), metrics: await metrics.metrics(), http: monitoringUrl }),
    logger,
  });
  if (options.auth === 'open') {
    logger.warn('auth open: streams may name any user, and the operators\' dashboard (/v1/dashboard) needs no token: anyone who reaches this gateway sees the whole system. For demos only');
  }

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: options.bodyLimit,
    // proxy-addr asks hop by hop, nearest first: trust the first n hops (the load balancers).
    trustProxy: (_address: string, hop: number) => hop < options.trustedProxies,
    requestIdHeader: false,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && /^[A-Za-z0-9_.:-]{1,64}$/.test(given) ? given : randomBytes(9).toString('base64url');
    },
    // Slow clients cannot hold a connection open forever; idle keep-alives are closed on drain.
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    requestTimeout: 60_000,
    keepAliveTimeout: 5_000,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    // Long names reach the protocol's validation (a typed 400), not the router's bare 414.
    routerOptions: { maxParamLength: 1_024 },
    frameworkErrors: (error, _request, reply) => sendError(reply, frameworkError(error)),
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (draining && request.url !== '/health') {
      reply.header('connection', 'close');
      throw Object.assign(new Error('the gateway is shutting down: retry on another'), { statusCode: 503 });
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    counters.answered(request.routeOptions.url ?? 'unknown', reply.statusCode, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const answer = !(error instanceof CorreioError) && error.statusCode !== undefined ? frameworkError(error) : httpError(error);
    if (answer.status >= 500) request.log.warn({ err: error, reqId: request.id }, 'request failed');
    return sendError(reply, answer);
  });

  await app.register(fastifyHelmet, {
    // The docs page runs swagger-ui's own scripts and styles from this origin.
    contentSecurityPolicy: { directives: { 'script-src': ["'self'"], 'style-src': ["'self'", 'https:', "'unsafe-inline'"], 'img-src': ["'self'", 'data:'] } },
  });
  if (options.corsOrigins.length > 0) {
    await app.register(fastifyCors, {
      origin: [...options.corsOrigins],
      methods: ['GET', 'POST'],
      allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-Id'],
      exposedHeaders: ['Retry-After', 'X-Request-Id'],
      maxAge: 600,
    });
  }
  // Read per request, so the configuration service can change them while the gateway runs.
  const limits = { ...options.rateLimits };
  const unregisterLive = [
    registerLiveSetting('rateIp', (value) => (limits.perIp = typeof value === 'number' ? value : options.rateLimits.perIp)),
    registerLiveSetting('rateToken', (value) => (limits.perToken = typeof value === 'number' ? value : options.rateLimits.perToken)),
  ];
  await app.register(fastifyRateLimit, {
    global: true,
    max: () => limits.perIp,
    timeWindow: options.rateLimits.windowMs,
    keyGenerator: (request) => `ip:${request.ip}`,
    allowList: (request) => request.url === '/health' || request.url === '/metrics',
    onExceeded: () => counters.limited('ip'),
    errorResponseBuilder: (_request, context) => Object.assign(new Error(`too many requests from this address: retry in ${context.after}`), { statusCode: 429 }),
  });
  const perToken = app.createRateLimit({
    max: () => limits.perToken,
    timeWindow: options.rateLimits.windowMs,
    // A hash, so a forged token with someone else's name spends only its own budget.
    keyGenerator: (request) => `token:${createHash('sha256').update(request.headers.authorization ?? '').digest('base64url')}`,
  });
  app.addHook('onRequest', async (request, reply) => {
    if (!request.headers.authorization) return;
    const limit = await perToken(request);
    // isAllowed means "on the allow-list"; a counted request is refused only once it exceeds the limit.
    if (limit.isAllowed || !limit.isExceeded) return;
    counters.limited('token');
    reply.header('retry-after', String(limit.ttlInSeconds));
    throw Object.assign(new Error(`too many requests with this token: retry in ${limit.ttlInSeconds} s`), { statusCode: 429 });
  });

  const routes = chatRoutes();
  const document = openApiDocument(routes, version);
  await app.register(fastifySwagger, { mode: 'static', specification: { document: document as never } });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true });
  app.get('/openapi.json', { schema: { hide: true } }, async () => document);
  // After helmet and the rate limits, so the app's files get their headers and count too.
  const webPage = await registerWebApp(app, options.webRoot ?? defaultWebRoot);
  app.setNotFoundHandler((request, reply) => webPage(request, reply) ?? sendError(reply, { status: 404, body: gatewayError('NOT_FOUND', `no route ${request.method} ${request.url.split('?', 1)[0]!.slice(0, 200)}; see /openapi.json`) }));

  for (const route of routes) {
    app.route({
      method: route.method,
      url: route.url,
      handler: async (request, reply) => {
        const given = bearerAuth(request);
        // The envelope id is the request's id across processes (central logs): the Idempotency-Key,
        // else this gateway's own request id (a client's X-Request-Id may repeat, so it is not reused).
        const context = { ...given, id: given.id ?? (request.headers['x-request-id'] === request.id ? randomBytes(12).toString('base64url') : request.id) };
        const body = requestBody(route, request.params as Record<string, string>, request.query as Record<string, unknown>, request.body);
        request.log.debug({ rid: context.id, type: route.type }, 'request sent upstream');
        // A long poll waits for its wait_ms upstream before it answers: the attempt's time-out is on top.
        const waitMs = route.longPoll && typeof body['wait_ms'] === 'number' ? body['wait_ms'] : 0;
        if (waitMs > 0) request.raw.setTimeout(CONNECTION_TIMEOUT_MS + waitMs);
        const result = await upstream.call(route.service ?? chatService, route.type, body as never, waitMs > 0 ? { ...context, timeout: options.requestTimeoutMs + waitMs } : context);
        request.log.debug({ rid: context.id, type: route.type }, 'request answered');
        return reply.code(route.status ?? 200).send(result);
      },
    });
  }
  registerServiceRoutes(app, upstream, { allowed: new Set(options.services), chatService, probeTimeoutMs: 1_000 });

  const health = () => {
    const ready = !draining && upstream.connected;
    return { ready, status: draining ? 'draining' : ready ? 'ok' : 'broker unreachable', version, sockets: sockets(), dashboards: dashboards.size, topics: hub.topics };
  };
  app.get('/health', async (_request, reply) => {
    const status = health();
    return reply.code(status.ready ? 200 : 503).send(status);
  });
  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));

  await app.register(fastifyWebsocket, { options: { maxPayload: options.maxMessageBytes } });
  app.register(async (scope) => {
    scope.addHook('onRequest', async () => {
      if (sockets() < options.maxSockets) return;
      counters.refused('limit');
      throw Object.assign(new Error('too many open streams: retry later'), { statusCode: 503 });
    });
    scope.get('/v1/stream', { websocket: true }, (socket) => {
      const connection = new StreamConnection(socket, { hub, upstream, auth: options.auth, limits: options.stream, counters, logger });
      connections.add(connection);
      socket.on('close', () => connections.delete(connection));
    });
    scope.get('/v1/dashboard', { websocket: true }, (socket) => {
      const connection = new DashboardConnection(socket, {
        feed,
        upstream,
        chatService,
        auth: options.auth,
        limits: { authTimeoutMs: options.stream.authTimeoutMs, maxBufferedBytes: options.stream.maxBufferedBytes, messagesPerSecond: options.stream.messagesPerSecond, whoamiTimeoutMs: options.requestTimeoutMs },
        counters,
        logger,
      });
      dashboards.add(connection);
      socket.on('close', () => dashboards.delete(connection));
    });
  });

  let sidecar: HttpSidecar | undefined;
  try {
    await app.listen({ host: options.host, port: options.port });
    // Once listening, an accept that fails (EMFILE past libuv's reserve) is an 'error' event: unheard, it would end the gateway.
    app.server.on('error', (error) => logger.error({ err: error }, 'the HTTP server could not accept a connection; it keeps listening'));
    if (options.http) sidecar = await startHttpSidecar({ port: options.http.port, ...(options.http.host ? { host: options.http.host } : {}), registry: metrics, health, logger });
  } catch (error) {
    await app.close();
    await feed.close();
    await Promise.all([upstream.close(), hub.close()]);
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
  monitoringUrl = sidecar?.url ?? url;
  let closing: Promise<void> | undefined;
  return {
    url,
    readyLine: `gateway ready url=${url} http=${sidecar?.url ?? url} broker=${options.broker} proxy=${options.proxy}`,
    app,
    metrics,
    close: () => {
      closing ??= (async () => {
        draining = true;
        for (const unregister of unregisterLive) unregister();
        for (const connection of [...connections, ...dashboards]) connection.close(CLOSE.serviceRestart, 'the gateway is restarting: reconnect and resume');
        await app.close();
        await feed.close();
        await Promise.all([upstream.close(), hub.close(), sidecar?.close()]);
      })();
      return closing;
    },
  };
}

/** A refusal by Fastify itself (bad JSON, body too large, unsupported media type, rate limit) in the protocol's error shape. */
function frameworkError(error: FastifyError): HttpError {
  const status = error.statusCode ?? 400;
  const code = status === 413 ? 'TOO_LARGE' : status === 429 ? 'OVERLOADED' : status === 503 ? 'UNAVAILABLE' : error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? 'DECODE' : 'BAD_REQUEST';
  return { status, body: gatewayError(code, error.message.slice(0, 500), status === 429 || status === 503), ...(status === 503 ? { retryAfter: 1 } : {}) };
}

function sendError(reply: FastifyReply, error: HttpError): FastifyReply {
  if (error.retryAfter !== undefined && !reply.hasHeader('retry-after')) reply.header('retry-after', String(error.retryAfter));
  return reply.code(error.status).type('application/json').send(error.body);
}
