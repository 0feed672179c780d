import { LabelGuard, type Counter, type MetricsRegistry } from '@correio/observability';
import type { BrokerObserver, MajordomoBroker } from '@correio/transport';

/** Prometheus metrics of a broker: counters and the latency histogram from its observer hooks, gauges from its snapshot. */
export function brokerMetrics(metrics: MetricsRegistry, broker: () => MajordomoBroker | undefined): BrokerObserver {
  const services = new LabelGuard();
  const requests = metrics.counter('broker_requests_total', { help: 'Client requests received, by service.', labelNames: ['service'] });
  const replies = metrics.counter('broker_replies_total', { help: 'Worker replies forwarded to clients, by service and kind (partial, final).', labelNames: ['service', 'kind'] });
  const errors = metrics.counter('broker_errors_total', { help: 'Error replies the broker sent itself, by service and code.', labelNames: ['service', 'code'] });
  const drops = metrics.counter('broker_dropped_total', { help: 'Messages dropped without an answer, by reason.', labelNames: ['reason'] });
  const workerEvents = metrics.counter('broker_worker_events_total', {
    help: 'Workers registering (ready) and leaving (expired, disconnected, protocol-violation, shutdown), by service.',
    labelNames: ['service', 'event'],
  });
  const redispatched = metrics.counter('broker_redispatched_total', { help: "Dead workers' requests given to another worker of an idempotent service.", labelNames: ['service'] });
  const refusals = metrics.counter('broker_limit_refusals_total', {
    help: 'READYs and requests refused because a bound was reached: services (--max-services) or workers (--max-workers).',
    labelNames: ['limit'],
  });
  const forgotten = metrics.counter('broker_services_forgotten_total', {
    help: 'Services forgotten, by reason: idle (no worker for --service-expiry), evicted (room for a new one at --max-services), never-registered (after the start-up grace).',
    labelNames: ['reason'],
  });
  const rebinds = metrics.counter('broker_endpoint_rebinds_total', {
    help: 'TCP endpoints unbound and bound again to close connections libzmq left open after routing-id collisions (--max-stuck-connections).',
  });
  const latency = metrics.histogram('broker_request_duration_seconds', { help: 'Time from a request reaching the broker to its FINAL reply leaving it.', labelNames: ['service'] });

  const gaugeFromSnapshot = (name: string, help: string, pick: (s: { workers: number; queued: number; inFlight: number; idle: number }) => number) =>
    metrics.gauge(name, {
      help,
      labelNames: ['service'],
      collect: (gauge) => {
        gauge.reset();
        for (const service of broker()?.snapshot().services ?? []) gauge.set({ service: services.label(service.name) }, pick(service));
      },
    });
  gaugeFromSnapshot('broker_queue_depth', 'Requests waiting for a worker, by service.', (s) => s.queued);
  gaugeFromSnapshot('broker_workers', 'Live workers, by service.', (s) => s.workers);
  gaugeFromSnapshot('broker_workers_idle', 'Idle workers, by service.', (s) => s.idle);
  gaugeFromSnapshot('broker_in_flight', 'Requests being served by a worker, by service.', (s) => s.inFlight);
  metrics.gauge('broker_services_tracked', { help: 'Services the broker holds state for (at most --max-services).', collect: (gauge) => gauge.set(broker()?.snapshot().services.length ?? 0) });
  metrics.gauge('broker_worker_connections', { help: 'Registered worker connections (at most --max-workers).', collect: (gauge) => gauge.set(broker()?.snapshot().workers ?? 0) });

  // prom-client hashes label objects on every call; the broker's hot path reuses bound children per service.
  interface Bound {
    readonly requests: { inc(): void };
    readonly finals: { inc(): void };
    readonly partials: { inc(): void };
    readonly latency: { observe(value: number): void };
  }
  const bound = new Map<string, Bound>();
  const forService = (service: string): Bound => {
    const label = services.label(service); // bounded: at most 256 names at once, and `other`
    let entry = bound.get(label);
    if (entry === undefined) {
      entry = {
        requests: requests.labels({ service: label }),
        finals: replies.labels({ service: label, kind: 'final' }),
        partials: replies.labels({ service: label, kind: 'partial' }),
        latency: latency.labels({ service: label }),
      };
      bound.set(label, entry);
    }
    return entry;
  };

  return {
    requestReceived: (service) => forService(service).requests.inc(),
    replyForwarded: (service, final, seconds) => {
      const entry = forService(service);
      if (final) entry.finals.inc();
      else entry.partials.inc();
      if (seconds !== undefined) entry.latency.observe(seconds);
    },
    errorSent: (service, code) => errors.inc({ service: services.label(service), code }),
    dropped: (reason) => drops.inc({ reason }),
    workerReady: (service) => workerEvents.inc({ service: services.label(service), event: 'ready' }),
    workerLeft: (service, why) => workerEvents.inc({ service: services.label(service), event: why }),
    redispatched: (service) => redispatched.inc({ service: services.label(service) }),
    refused: (limit) => refusals.inc({ limit }),
    endpointRebound: () => rebinds.inc(),
    serviceForgotten: (service, why) => {
      forgotten.inc({ reason: why });
      // Its label goes with it, so a peer churning names cannot use up the 256 and leave later services as `other`.
      // Its counts move to `other`, so every total stays right; its latency samples go.
      if (!services.release(service)) return;
      bound.delete(service);
      for (const counter of [requests, replies, errors, workerEvents, redispatched]) void foldIntoOther(counter, service);
      latency.remove({ service });
    },
  };
}

/**
 * Moves the series of `service` into `service="other"`. prom-client hands out its live series
 * objects, so a count that lands before the move is moved with them: no count is lost.
 */
async function foldIntoOther(counter: Counter<string>, service: string): Promise<void> {
  for (const { labels, value } of (await counter.get()).values) {
    if (labels['service'] !== service) continue;
    counter.remove(labels);
    counter.inc({ ...labels, service: 'other' }, value);
  }
}
