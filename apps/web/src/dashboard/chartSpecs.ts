// What each dashboard chart plots: a name, a unit, and how to read one point per series from a snapshot.
import type { GatewayDashboard } from '@correio/protocol';
import { perSecond } from './format.js';
import type { Sample } from './SeriesHistory.js';

export interface ChartSpec {
  readonly id: string;
  readonly title: string;
  /** The unit of the y axis, said with every value. */
  readonly unit: string;
  readonly sample: (snapshot: GatewayDashboard) => Sample;
  /** Series drawn dashed (the second of a pair, e.g. p99 beside p50). */
  readonly dashed?: (name: string) => boolean;
  /** Decimals shown (1 unless said). */
  readonly digits?: number;
}

/** The broker's own services (MMI) are not charted: they say nothing of the system's load. */
const charted = (snapshot: GatewayDashboard) => snapshot.services.filter((service) => !service.name.startsWith('mmi.'));

const byName = <T>(items: readonly T[], name: (item: T) => string, value: (item: T) => number | undefined): Sample => Object.fromEntries(items.map((item) => [name(item), value(item)]));

const servers = (snapshot: GatewayDashboard) => snapshot.nodes.filter((node) => node.kind === 'server');

/** The charts, in page order. */
export const CHART_SPECS: readonly ChartSpec[] = [
  {
    id: 'requests',
    title: 'Requests per second, by service',
    unit: 'req/s',
    sample: (snapshot) => byName(charted(snapshot), (service) => service.name, (service) => perSecond(service.requests, snapshot.interval_ms)),
  },
  {
    id: 'errors',
    title: 'Errors per second, by service',
    unit: 'err/s',
    sample: (snapshot) => byName(charted(snapshot), (service) => service.name, (service) => perSecond(service.errors, snapshot.interval_ms)),
  },
  {
    id: 'latency',
    title: 'Latency at the broker, p50 and p99',
    unit: 'ms',
    digits: 2,
    sample: (snapshot) => ({
      ...byName(charted(snapshot), (service) => `${service.name} p50`, (service) => (service.p50_us === undefined ? undefined : service.p50_us / 1000)),
      ...byName(charted(snapshot), (service) => `${service.name} p99`, (service) => (service.p99_us === undefined ? undefined : service.p99_us / 1000)),
    }),
    dashed: (name) => name.endsWith(' p99'),
  },
  {
    id: 'queue',
    title: 'Broker queue depth and workers, by service',
    unit: '',
    digits: 0,
    sample: (snapshot) => ({
      ...byName(charted(snapshot), (service) => `${service.name} queue`, (service) => service.queue_depth),
      ...byName(charted(snapshot), (service) => `${service.name} workers`, (service) => service.workers),
    }),
    dashed: (name) => name.endsWith(' workers'),
  },
  {
    id: 'lag',
    title: 'Replication lag, by server',
    unit: 'ops',
    digits: 0,
    sample: (snapshot) => byName(servers(snapshot), (node) => node.id, (node) => node.replication_lag_ops),
  },
  {
    id: 'clock',
    title: 'Clock offset against the coordinator, by server',
    unit: 'ms',
    digits: 3,
    sample: (snapshot) => byName(servers(snapshot), (node) => node.id, (node) => (node.clock_offset_us === undefined ? undefined : node.clock_offset_us / 1000)),
  },
  {
    id: 'cpu',
    title: 'CPU, by process',
    unit: '% of a core',
    sample: (snapshot) => byName(snapshot.nodes, (node) => node.id, (node) => (node.cpu_permille === undefined ? undefined : node.cpu_permille / 10)),
  },
  {
    id: 'rss',
    title: 'Memory (RSS), by process',
    unit: 'MiB',
    sample: (snapshot) => byName(snapshot.nodes, (node) => node.id, (node) => (node.rss_bytes === undefined ? undefined : node.rss_bytes / 1024 ** 2)),
  },
];
