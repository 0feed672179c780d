import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './logger.js';
import type { MetricsRegistry } from './metrics.js';

/** What `/health` reports. `ready: false` answers 503 so load balancers and supervisors stop sending. */
export interface HealthStatus {
  readonly ready: boolean;
  /** A word for people: `ok`, `starting`, `draining`, … */
  readonly status?: string;
  /** Anything else worth seeing (worker counts, queue depths). Must be JSON-serialisable. */
  readonly [detail: string]: unknown;
}

export interface HttpSidecarOptions {
  /** 0 picks a free port; read it back from `port`. */
  readonly port: number;
  /** Defaults to 127.0.0.1: metrics are not for the open internet unless an operator says so. */
  readonly host?: string;
  readonly health: () => HealthStatus | Promise<HealthStatus>;
  readonly registry?: MetricsRegistry;
  /** The program's version, reported in every /health answer as `version` (unless the answer has its own). */
  readonly version?: string;
  /** Where an error of the listening server (an accept that failed: EMFILE) is logged. Default: one line on stderr. */
  readonly logger?: Logger;
}

export interface HttpSidecar {
  readonly host: string;
  readonly port: number;
  /** `http://host:port`. */
  readonly url: string;
  close(): Promise<void>;
}

/** Serves `GET /health` (JSON; 200 ready, 503 not) and `GET /metrics` (Prometheus text) on a side port. */
export async function startHttpSidecar(options: HttpSidecarOptions): Promise<HttpSidecar> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((request, response) => {
    handle(options, request, response).catch((error: unknown) => {
      send(response, 500, 'application/json', JSON.stringify({ error: error instanceof Error ? error.message : String(error) }));
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Unheard, an 'error' of a listening server (an accept past the descriptor limit) would end the program.
  server.on('error', (error) => {
    if (options.logger) options.logger.error({ err: error }, 'the HTTP sidecar could not accept a connection; it keeps listening');
    else process.stderr.write(`http sidecar: ${error.message}; it keeps listening\n`);
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    host,
    port,
    url: `http://${urlHost}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(options: HttpSidecarOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = (request.url ?? '/').split('?', 1)[0];
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    send(response, 405, 'text/plain', 'method not allowed\n');
    return;
  }
  if (path === '/health') {
    const health = { ...(options.version === undefined ? {} : { version: options.version }), ...(await options.health()) };
    send(response, health.ready ? 200 : 503, 'application/json', JSON.stringify(health));
  } else if (path === '/metrics' && options.registry) {
    send(response, 200, options.registry.contentType, await options.registry.metrics());
  } else {
    send(response, 404, 'text/plain', 'not found; try /health or /metrics\n');
  }
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
