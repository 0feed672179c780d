import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { BadRequestError, CorreioError } from '@correio/codec';
import { ELECTION_TOPIC, MEMBERSHIP_TOPIC, REF_SERVICE } from '@correio/discovery';
import { createLogger, createMetrics, DataDirLock, packageVersion, startHttpSidecar, type CurveClientKeySet, type HttpSidecar, type Logger, type MetricsRegistry } from '@correio/observability';
import type { AnyEnvelope, ElectionCoordinator, RefHeartbeatRequest, RefRegisterRequest } from '@correio/protocol';
import { LamportStamp, Publisher, Subscriber, Worker } from '@correio/transport';
import { CoordinatorTracker } from './CoordinatorTracker.js';
import { JsonFileRegistryStore } from './JsonFileRegistryStore.js';
import { refMetrics, type RefMetrics } from './refMetrics.js';
import { ServerRegistry, type Instant, type MembershipEvent } from './ServerRegistry.js';

/** This program's version, shown in /health. */
const version = packageVersion(import.meta.url);

export interface StartRefOptions {
  /** The broker's MDP endpoint; the reference server serves broker service `ref` there. */
  readonly broker: string;
  /** CURVE client keys for the broker and proxy sockets; plaintext when absent. */
  readonly curve?: CurveClientKeySet;
  /** The proxy's publisher side (XSUB), where `ref.membership` events go. Without it nothing is published. */
  readonly publishEndpoint?: string;
  /** The proxy's subscriber side (XPUB), to follow `election.coordinator` announcements. */
  readonly subscribeEndpoint?: string;
  /** Where the registry lives (created if missing); one reference server per directory. */
  readonly dataDir: string;
  /** The heartbeat period servers use, ms. Default 1000. */
  readonly heartbeatIntervalMs?: number;
  /** Missed heartbeats after which a server is marked down. Default 3. */
  readonly misses?: number;
  /** A server down this long leaves the list (it keeps its rank). 0: never. Default 300 000 ms. */
  readonly removeAfterMs?: number;
  /** Servers remembered at most, listed or not; past it the unlisted one seen longest ago is forgotten. Default 10 000. */
  readonly maxKnown?: number;
  /** The `from` of what the reference server sends. Default `ref-<host>-<pid>`. */
  readonly id?: string;
  /** MDP heartbeating with the broker (FRAMES.md §1.6). Defaults 2500 ms and 3. */
  readonly workerHeartbeatIntervalMs?: number;
  readonly workerLiveness?: number;
  /** The HTTP side port for /health and /metrics; none when absent. */
  readonly http?: { readonly port: number; readonly host?: string };
  /** Defaults to a quiet `ref` logger (CORREIO_LOG_LEVEL or warn). */
  readonly logger?: Logger;
  /** Defaults to a fresh registry with process metrics. */
  readonly metrics?: MetricsRegistry;
}

export interface RunningRef {
  readonly id: string;
  readonly registry: ServerRegistry;
  readonly dataDir: string;
  readonly sidecar: HttpSidecar | undefined;
  readonly metrics: MetricsRegistry;
  /** The line a supervisor waits for: `ref ready <id> data=<dir> next-rank=<n> [http=<url>]`. */
  readonly readyLine: string;
  /** The coordinator of the latest announcement seen. */
  coordinator(): ElectionCoordinator | undefined;
  /** Stops serving (in-flight requests finish), records last-heard times, closes everything, releases the data directory. */
  close(): Promise<void>;
}

function now(): Instant {
  return { mono: performance.timeOrigin + performance.now(), wall: Date.now() };
}

/** Starts a reference server in this process. */
export async function startRef(options: StartRefOptions): Promise<RunningRef> {
  const logger = options.logger ?? createLogger('ref');
  const metrics = options.metrics ?? createMetrics();
  const id = options.id ?? `ref-${hostname()}-${process.pid}`;
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 1000;
  const misses = options.misses ?? 3;

  mkdirSync(options.dataDir, { recursive: true });
  const lock = DataDirLock.acquire(options.dataDir, 'ref.lock');
  let registry: ServerRegistry;
  try {
    const store = new JsonFileRegistryStore(options.dataDir);
    registry = new ServerRegistry({ store, heartbeatIntervalMs, misses, ...(options.removeAfterMs !== undefined ? { removeAfterMs: options.removeAfterMs } : {}), ...(options.maxKnown !== undefined ? { maxKnown: options.maxKnown } : {}) }, now());
  } catch (error) {
    lock.release();
    throw error;
  }
  const coordinator = new CoordinatorTracker();
  const counters = refMetrics(metrics, registry, coordinator);
  const stamp = new LamportStamp(id);
  const publisher = options.publishEndpoint !== undefined ? new Publisher({ stamp, logger, ...(options.curve ? { curve: options.curve.proxy } : {}) }) : undefined;
  if (publisher) publisher.connect(options.publishEndpoint!);
  const publish = (events: readonly MembershipEvent[]) => publishEvents(publisher, events, counters, logger);

  const subscriber = options.subscribeEndpoint !== undefined ? new Subscriber({ topics: [ELECTION_TOPIC], stamp, logger, ...(options.curve ? { curve: options.curve.proxy } : {}) }) : undefined;
  subscriber?.connect(options.subscribeEndpoint!);
  const following = subscriber ? followElections(subscriber, coordinator, logger) : Promise.resolve();

  let brokerConnected = false;
  const worker = new Worker({
    endpoint: options.broker,
    ...(options.curve ? { curve: options.curve.broker } : {}),
    service: REF_SERVICE,
    handler: (request) => serve(request, registry, coordinator, counters, publish, logger),
    stamp,
    logger,
    ...(options.workerHeartbeatIntervalMs !== undefined ? { heartbeatInterval: options.workerHeartbeatIntervalMs } : {}),
    ...(options.workerLiveness !== undefined ? { liveness: options.workerLiveness } : {}),
  });
  worker.events.on('connected', () => (brokerConnected = true));
  worker.events.on('disconnected', () => (brokerConnected = false));
  worker.start();

  // Liveness is checked four times per heartbeat period: a silent server is marked down at most a
  // quarter period after its interval × misses have passed.
  const ticker = setInterval(() => {
    const { events, storeError } = registry.tick(now());
    if (storeError !== undefined) {
      counters.storeFailures.inc();
      logger.error({ err: storeError }, 'could not record a departure in the registry; will retry');
    }
    publish(events);
  }, Math.max(10, Math.floor(heartbeatIntervalMs / 4)));

  let state: 'running' | 'closing' | 'closed' = 'running';
  let sidecar: HttpSidecar | undefined;
  const closeAll = async () => {
    clearInterval(ticker);
    await worker.stop({ drainTimeout: 1000 });
    try {
      registry.checkpoint();
    } catch (error) {
      logger.error({ err: error }, 'could not record last-heard times on shutdown');
    }
    await publisher?.close({ flushTimeout: 500 });
    await subscriber?.close();
    await following;
    await sidecar?.close();
    lock.release();
  };
  try {
    if (options.http) {
      sidecar = await startHttpSidecar({
        port: options.http.port,
        ...(options.http.host ? { host: options.http.host } : {}),
        registry: metrics,
        version,
        logger,
        health: () => {
          const { listed, alive } = registry.counts;
          const ready = state === 'running' && brokerConnected;
          return {
            ready,
            status: state !== 'running' ? state : brokerConnected ? 'ok' : 'no broker connection',
            broker: brokerConnected ? 'connected' : 'disconnected',
            servers: listed,
            alive,
            nextRank: registry.nextRank,
            coordinator: coordinator.current?.server ?? null,
          };
        },
      });
    }
  } catch (error) {
    await closeAll();
    throw error;
  }

  if (registry.forgotten > 0) logger.warn({ forgotten: registry.forgotten, maxKnown: options.maxKnown }, 'forgot the unlisted servers seen longest ago to stay within --max-known');
  logger.info({ id, dataDir: options.dataDir, listed: registry.counts.listed, known: registry.counts.known, nextRank: registry.nextRank }, 'reference server started');
  const parts = [`ref ready ${id}`, `data=${options.dataDir}`, `next-rank=${registry.nextRank}`];
  if (sidecar) parts.push(`http=${sidecar.url}`);
  let closing: Promise<void> | undefined;
  return {
    id,
    registry,
    dataDir: options.dataDir,
    sidecar,
    metrics,
    readyLine: parts.join(' '),
    coordinator: () => coordinator.current,
    close: () => {
      closing ??= (async () => {
        state = 'closing';
        await closeAll();
        state = 'closed';
      })();
      return closing;
    },
  };
}

function serve(
  request: AnyEnvelope,
  registry: ServerRegistry,
  coordinator: CoordinatorTracker,
  counters: RefMetrics,
  publish: (events: readonly MembershipEvent[]) => void,
  logger: Logger,
): object {
  switch (request.type) {
    case 'ref.register.request': {
      const { server, endpoint, http, peer } = request.body as RefRegisterRequest;
      let result: ReturnType<ServerRegistry['register']>;
      try {
        result = registry.register(server, { endpoint, http, peer }, now());
      } catch (error) {
        const failure = CorreioError.from(error);
        counters.registrations.inc({ outcome: 'failed' });
        if (failure.code === 'INTERNAL') {
          counters.storeFailures.inc();
          logger.error({ err: error, server }, 'could not record a registration; the server will retry');
        }
        throw failure;
      }
      counters.registrations.inc({ outcome: result.created ? 'new' : 'known' });
      logger.info({ server, rank: result.rank, created: result.created, endpoint, http, peer }, 'server registered');
      publish(result.events);
      return { server, rank: result.rank };
    }
    case 'ref.heartbeat.request': {
      const { server, rank } = request.body as RefHeartbeatRequest;
      const result = registry.heartbeat(server, rank, now());
      counters.heartbeats.inc({ known: String(result.known) });
      if (!result.known) logger.info({ server, rank }, 'heartbeat from a server not listed under that rank; told to register');
      publish(result.events);
      return { alive: result.alive, known: result.known };
    }
    case 'ref.servers.request': {
      const current = coordinator.current;
      return { servers: registry.list(), ...(current !== undefined ? { coordinator: current.server } : {}) };
    }
    default:
      throw new BadRequestError(`the reference server does not serve ${request.type}`, { data: { type: request.type } });
  }
}

function publishEvents(publisher: Publisher | undefined, events: readonly MembershipEvent[], counters: RefMetrics, logger: Logger): void {
  for (const event of events) {
    counters.membershipEvents.inc({ state: event.state });
    if (event.state !== 'up') logger.warn({ ...event }, `server ${event.state}`);
    else logger.info({ ...event }, 'server up');
    if (!publisher) continue;
    try {
      publisher.publish(MEMBERSHIP_TOPIC, 'ref.membership', event);
    } catch (error) {
      // Subscribers see the gap in sequence numbers and re-read the list.
      counters.publishFailures.inc();
      logger.warn({ err: error, event }, 'could not publish a membership event');
    }
  }
}

async function followElections(subscriber: Subscriber, coordinator: CoordinatorTracker, logger: Logger): Promise<void> {
  try {
    for await (const { envelope } of subscriber) {
      if (envelope.type !== 'election.coordinator') continue;
      if (coordinator.observe(envelope.body)) logger.info({ ...envelope.body }, 'coordinator announced');
    }
  } catch (error) {
    logger.error({ err: error }, 'election subscription failed');
  }
}
