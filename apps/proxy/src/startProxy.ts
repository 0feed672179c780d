import { createLogger, createMetrics, packageVersion, startHttpSidecar, type HttpSidecar, type Logger, type MetricsRegistry } from '@correio/observability';
import { PubSubProxy, type PubSubProxyOptions } from '@correio/transport';
import { proxyMetrics } from './proxyMetrics.js';

/** This program's version, shown in /health. */
const version = packageVersion(import.meta.url);

export interface StartProxyOptions extends Omit<PubSubProxyOptions, 'logger' | 'observer'> {
  /** The HTTP side port for /health and /metrics; none when absent. */
  readonly http?: { readonly port: number; readonly host?: string };
  readonly logger?: Logger;
  readonly metrics?: MetricsRegistry;
}

export interface RunningProxy {
  readonly proxy: PubSubProxy;
  readonly sidecar: HttpSidecar | undefined;
  readonly metrics: MetricsRegistry;
  /** `proxy ready publishers=<endpoint> subscribers=<endpoint> mode=<mode> [http=<url>]` */
  readonly readyLine: string;
  close(): Promise<void>;
}

/** Starts a pub/sub proxy (and, when asked, the HTTP side port) in this process. */
export async function startProxy(options: StartProxyOptions): Promise<RunningProxy> {
  const logger = options.logger ?? createLogger('proxy');
  const metrics = options.metrics ?? createMetrics();
  // The gauges read the proxy's state at scrape time, after it exists.
  const observer = proxyMetrics(metrics, () => started);
  const { http, logger: _logger, metrics: _metrics, ...proxyOptions } = options;
  const started = new PubSubProxy({ ...proxyOptions, logger, observer });
  let sidecar: HttpSidecar | undefined;
  try {
    await started.start();
    if (http) {
      sidecar = await startHttpSidecar({
        port: http.port,
        ...(http.host ? { host: http.host } : {}),
        registry: metrics,
        version,
        logger,
        health: () => {
          const snapshot = started.snapshot();
          return { ready: snapshot.state === 'running', status: snapshot.state === 'running' ? 'ok' : snapshot.state, ...snapshot };
        },
      });
    }
  } catch (error) {
    await started.close();
    throw error;
  }
  const parts = [`proxy ready publishers=${started.frontend} subscribers=${started.backend} mode=${started.mode}`];
  if (sidecar) parts.push(`http=${sidecar.url}`);
  let closing: Promise<void> | undefined;
  return {
    proxy: started,
    sidecar,
    metrics,
    readyLine: parts.join(' '),
    close: () => {
      closing ??= (async () => {
        await started.close();
        await sidecar?.close();
      })();
      return closing;
    },
  };
}
