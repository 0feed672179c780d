import { LabelGuard, type MetricsRegistry } from '@correio/observability';
import type { ProxyObserver, PubSubProxy } from '@correio/transport';

/** Prometheus metrics of a proxy. Per-message counters exist in metered mode only; native mode forwards outside JavaScript. */
export function proxyMetrics(metrics: MetricsRegistry, proxy: () => PubSubProxy | undefined): ProxyObserver {
  const topics = new LabelGuard(500);
  const messages = metrics.counter('proxy_messages_total', { help: 'Messages forwarded from publishers to subscribers (metered mode).' });
  const bytes = metrics.counter('proxy_bytes_total', { help: 'Bytes forwarded from publishers to subscribers, all frames (metered mode).' });
  const dropped = metrics.counter('proxy_dropped_total', { help: 'Messages the proxy could not pass on, by direction (metered mode).', labelNames: ['direction'] });
  const refused = metrics.counter('proxy_subscriptions_refused_total', {
    help: 'Messages from subscribers kept from the publishers, by reason: invalid-topic, limit (--max-subscriptions), connection-limit (--max-subscriptions-per-connection, guarded mode), not-a-subscription (metered and guarded modes).',
    labelNames: ['reason'],
  });
  const rejected = metrics.counter('proxy_connections_refused_total', {
    help: 'Subscriber connections cut off, by reason: greeting, mechanism, handshake, socket-type, auth, oversized, protocol, timeout; abandoned: the peer left during its handshake (guarded mode).',
    labelNames: ['reason'],
  });
  const disconnects = metrics.counter('proxy_disconnects_total', {
    help: 'Peers gone, by side (publishers, subscribers); a peer cut off for a message over the size limit counts here (both modes).',
    labelNames: ['side'],
  });
  metrics.gauge('proxy_topics_forwarded', {
    help: 'Distinct topics passed on to the publishers now; each publisher stores every one (metered mode).',
    collect: (gauge) => gauge.set(proxy()?.snapshot().forwarded ?? 0),
  });
  const changes = metrics.counter('proxy_subscription_changes_total', { help: 'Subscribe and unsubscribe messages from subscribers (metered mode).', labelNames: ['kind'] });
  metrics.gauge('proxy_subscriptions', {
    help: 'Subscribers per topic prefix (metered mode; at most 500 topics are labelled, the rest count as "other").',
    labelNames: ['topic'],
    collect: (gauge) => {
      gauge.reset();
      const totals = new Map<string, number>();
      for (const [topic, count] of proxy()?.subscriptions() ?? []) {
        const label = topics.label(topic);
        totals.set(label, (totals.get(label) ?? 0) + count);
      }
      for (const [topic, count] of totals) gauge.set({ topic }, count);
    },
  });
  metrics.gauge('proxy_mode', {
    help: 'The forwarding mode in use (1 for the active one).',
    labelNames: ['mode'],
    collect: (gauge) => {
      const mode = proxy()?.mode;
      if (mode) gauge.set({ mode }, 1);
    },
  });
  return {
    forwarded: (size) => {
      messages.inc();
      bytes.inc(size);
    },
    subscription: (_topic, subscribed) => changes.inc({ kind: subscribed ? 'subscribe' : 'unsubscribe' }),
    dropped: (direction) => dropped.inc({ direction }),
    refused: (reason) => refused.inc({ reason }),
    rejected: (reason) => rejected.inc({ reason }),
    disconnected: (side) => disconnects.inc({ side }),
  };
}
