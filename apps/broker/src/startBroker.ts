import { createLogger, createMetrics, packageVersion, startHttpSidecar, type HttpSidecar, type Logger, type MetricsRegistry } from '@correio/observability';
import { MajordomoBroker, SeedQueue, type CurveServerOptions, type MajordomoBrokerOptions } from '@correio/transport';
import { brokerMetrics } from './brokerMetrics.js';

/** This program's version, shown in /health. */
const version = packageVersion(import.meta.url);

export interface StartBrokerOptions extends Omit<MajordomoBrokerOptions, 'logger' | 'observer' | 'curve'> {
  /** The seed-compatible plain REQ/REP queue (FRAMES.md §2), on its own two endpoints. */
  readonly seed?: { readonly frontend: string; readonly backend: string };
  /** Server-side CURVE on every socket the broker binds. */
  readonly curve?: CurveServerOptions;
  /** The HTTP side port for /health and /metrics; none when absent. */
  readonly http?: { readonly port: number; readonly host?: string };
  /** Defaults to a quiet `broker` logger (CORREIO_LOG_LEVEL or warn). */
  readonly logger?: Logger;
  /** Defaults to a fresh registry with process metrics. */
  readonly metrics?: MetricsRegistry;
}

export interface RunningBroker {
  readonly broker: MajordomoBroker;
  readonly seed: SeedQueue | undefined;
  readonly sidecar: HttpSidecar | undefined;
  readonly metrics: MetricsRegistry;
  /** The MDP endpoints actually bound. */
  readonly endpoints: readonly string[];
  /** The single line a supervisor waits for: `broker ready <endpoint> [seed-frontend=…] [seed-backend=…] [http=…]`. */
  readonly readyLine: string;
  /** Refuses new work, answers queued requests UNAVAILABLE, lets in-flight ones finish for `graceMs`, closes everything. */
  close(graceMs?: number): Promise<void>;
}

/** Starts a broker (and, when asked, the seed queue and the HTTP side port) in this process. */
export async function startBroker(options: StartBrokerOptions): Promise<RunningBroker> {
  const logger = options.logger ?? createLogger('broker');
  const metrics = options.metrics ?? createMetrics();
  // The gauges read the broker's snapshot at scrape time, after it exists.
  const observer = brokerMetrics(metrics, () => broker);
  const { seed: seedOptions, http, curve, logger: _logger, metrics: _metrics, ...brokerOptions } = options;
  const broker = new MajordomoBroker({ ...brokerOptions, ...(curve ? { curve } : {}), logger, observer });
  const seed = seedOptions ? new SeedQueue({ ...seedOptions, ...(curve ? { curve } : {}), logger }) : undefined;
  let sidecar: HttpSidecar | undefined;
  try {
    await broker.start();
    await seed?.start();
    if (http) {
      const running = broker;
      sidecar = await startHttpSidecar({
        port: http.port,
        ...(http.host ? { host: http.host } : {}),
        registry: metrics,
        version,
        logger,
        health: () => {
          const snapshot = running.snapshot();
          return {
            ready: snapshot.state === 'running',
            status: snapshot.state === 'running' ? 'ok' : snapshot.state,
            workers: snapshot.workers,
            queued: snapshot.queued,
            inFlight: snapshot.inFlight,
            services: snapshot.services.length,
          };
        },
      });
    }
  } catch (error) {
    await broker.close();
    await seed?.close();
    throw error;
  }
  const started = broker;
  const parts = [`broker ready ${started.endpoints[0]!}`];
  if (seed) parts.push(`seed-frontend=${seed.frontend}`, `seed-backend=${seed.backend}`);
  if (sidecar) parts.push(`http=${sidecar.url}`);
  let closing: Promise<void> | undefined;
  return {
    broker: started,
    seed,
    sidecar,
    metrics,
    endpoints: started.endpoints,
    readyLine: parts.join(' '),
    close: (graceMs = 0) => {
      closing ??= (async () => {
        await started.close(graceMs);
        await seed?.close();
        await sidecar?.close();
      })();
      return closing;
    },
  };
}
