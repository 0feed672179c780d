import type { MetricsRegistry } from '@correio/observability';

/** The gateway's Prometheus metrics; gauges read live state at scrape time. */
export function gatewayMetrics(metrics: MetricsRegistry, live: () => { sockets: number; topics: number; upstreamInFlight: number }) {
  const requests = metrics.counter('gateway_http_requests_total', { help: 'HTTP requests answered, by route (the route pattern, not the URL) and status.', labelNames: ['route', 'status'] });
  const duration = metrics.histogram('gateway_http_request_duration_seconds', { help: 'Time from an HTTP request to its answer, by route.', labelNames: ['route'] });
  const limited = metrics.counter('gateway_rate_limited_total', { help: 'Requests refused with 429, by limit (ip, token).', labelNames: ['limit'] });
  const deliveries = metrics.counter('gateway_ws_deliveries_total', { help: 'Events sent on WebSockets, by kind (publication, direct) and source (live, history).', labelNames: ['kind', 'source'] });
  const closed = metrics.counter('gateway_ws_closed_total', { help: 'WebSockets the gateway closed, by close code.', labelNames: ['code'] });
  const refused = metrics.counter('gateway_ws_refused_total', { help: 'WebSocket upgrades refused, by reason (limit, draining).', labelNames: ['reason'] });
  metrics.gauge('gateway_ws_connections', { help: 'Open WebSockets.', collect: (gauge) => gauge.set(live().sockets) });
  metrics.gauge('gateway_upstream_topics', { help: 'Topics subscribed on the proxy for all sockets together.', collect: (gauge) => gauge.set(live().topics) });
  metrics.gauge('gateway_upstream_in_flight', { help: 'MDP requests in flight to the broker.', collect: (gauge) => gauge.set(live().upstreamInFlight) });
  return {
    answered(route: string, status: number, seconds: number): void {
      requests.inc({ route, status: String(status) });
      duration.observe({ route }, seconds);
    },
    limited: (limit: 'ip' | 'token') => limited.inc({ limit }),
    delivered: (kind: 'publication' | 'direct', replayed: boolean) => deliveries.inc({ kind, source: replayed ? 'history' : 'live' }),
    closed: (code: number) => closed.inc({ code: String(code) }),
    refused: (reason: 'limit' | 'draining') => refused.inc({ reason }),
  };
}

export type GatewayMetrics = ReturnType<typeof gatewayMetrics>;
