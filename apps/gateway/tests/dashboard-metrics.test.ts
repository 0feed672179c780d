// The dashboard's reading of Prometheus text: the parser on prom-client's real output and on
// hostile lines, histogram percentiles over bucket deltas, and the broker's services over an interval.
import { createMetrics } from '@correio/observability';
import { describe, expect, it } from 'vitest';
import { offsetsAgainstCoordinator } from '../src/dashboard/clockOffsets.js';
import { bucketDeltas, counterDelta, histogramQuantile } from '../src/dashboard/histogramQuantile.js';
import type { DashboardNode } from '../src/dashboard/nodeStats.js';
import { Metrics, parsePrometheusText, total } from '../src/dashboard/prometheusText.js';
import { serviceStats } from '../src/dashboard/serviceStats.js';

describe('parsePrometheusText', () => {
  it('reads prom-client exposition: labels, escapes, histograms, special values', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const counter = metrics.counter('things_total', { help: 'things', labelNames: ['name'] });
    counter.inc({ name: 'plain' }, 3);
    counter.inc({ name: 'quote " back \\ line \n end' }, 2);
    const histogram = metrics.histogram('wait_seconds', { help: 'waits', labelNames: ['service'], buckets: [0.001, 0.01] });
    histogram.observe({ service: 'chat' }, 0.0005);
    histogram.observe({ service: 'chat' }, 0.005);
    histogram.observe({ service: 'ref' }, 1);
    const parsed = Metrics.parse(await metrics.metrics());
    const things = parsed.series('correio_things_total');
    expect(things.map((sample) => [sample.labels['name'], sample.value])).toEqual([
      ['plain', 3],
      ['quote " back \\ line \n end', 2],
    ]);
    const chatBuckets = parsed.series('correio_wait_seconds_bucket').filter((sample) => sample.labels['service'] === 'chat');
    expect(chatBuckets.map((sample) => [sample.labels['le'], sample.value])).toEqual([
      ['0.001', 1],
      ['0.01', 2],
      ['+Inf', 2],
    ]);
    expect(total(parsed.series('correio_wait_seconds_count'))).toBe(3);
    expect(parsed.series('absent', 'correio_wait_seconds_sum')).toHaveLength(2);
  });

  it('skips lines that do not parse, keeps the rest, and treats __proto__ as an ordinary label', () => {
    const text = [
      '# HELP x a metric',
      'good{a="1"} 5 1700000000000',
      'bad{a="1" 5',
      'bad{a=1} 5',
      'bad{a="\\x"} 5',
      '{a="1"} 5',
      'nonumber{a="1"} five',
      'inf +Inf',
      'nan NaN',
      'proto{__proto__="polluted",constructor="c"} 7',
      'spaced { a = "2" , } 1e3',
      '',
    ].join('\n');
    const samples = parsePrometheusText(text);
    expect(samples.map((sample) => sample.name)).toEqual(['good', 'inf', 'nan', 'proto', 'spaced']);
    const proto = samples.find((sample) => sample.name === 'proto')!;
    expect(proto.labels['__proto__']).toBe('polluted');
    expect(Object.keys(proto.labels)).toEqual(['__proto__', 'constructor']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(samples.find((sample) => sample.name === 'spaced')).toMatchObject({ labels: { a: '2' }, value: 1000 });
    expect(samples.find((sample) => sample.name === 'inf')!.value).toBe(Infinity);
    expect(total(samples)).toBe(5 + 7 + 1000);
  });
});

describe('histogram percentiles', () => {
  it('interpolates inside the bucket the rank falls in, as histogram_quantile does', () => {
    const buckets = [
      { le: 0.001, count: 50 },
      { le: 0.01, count: 100 },
      { le: Infinity, count: 100 },
    ];
    expect(histogramQuantile(0.5, buckets)).toBeCloseTo(0.001);
    expect(histogramQuantile(0.75, buckets)).toBeCloseTo(0.0055);
    expect(histogramQuantile(0.99, [{ le: 0.01, count: 1 }, { le: Infinity, count: 100 }])).toBe(0.01);
    expect(histogramQuantile(0.5, [{ le: Infinity, count: 0 }])).toBeUndefined();
  });

  it('takes deltas over an interval, and a count that went down as a restart', () => {
    const before = [
      { le: 1, count: 10 },
      { le: Infinity, count: 12 },
    ];
    expect(bucketDeltas([{ le: 1, count: 15 }, { le: Infinity, count: 20 }], before)).toEqual([{ le: 1, count: 5 }, { le: Infinity, count: 8 }]);
    expect(bucketDeltas([{ le: 1, count: 1 }, { le: Infinity, count: 2 }], before)).toEqual([{ le: 1, count: 1 }, { le: Infinity, count: 2 }]);
    expect(counterDelta(10, 4)).toBe(6);
    expect(counterDelta(3, 4)).toBe(3);
    expect(counterDelta(undefined, 4)).toBe(0);
  });
});

describe('serviceStats', () => {
  const scrape = (requests: number, fast: number, slow: number) =>
    Metrics.parse(
      [
        `correio_broker_requests_total{service="chat"} ${requests}`,
        `correio_broker_errors_total{service="chat",code="TIMEOUT"} 1`,
        `correio_broker_errors_total{service="chat",code="UNAVAILABLE"} ${requests > 10 ? 3 : 1}`,
        `correio_broker_request_duration_seconds_bucket{le="0.001",service="chat"} ${fast}`,
        `correio_broker_request_duration_seconds_bucket{le="0.1",service="chat"} ${fast + slow}`,
        `correio_broker_request_duration_seconds_bucket{le="+Inf",service="chat"} ${fast + slow}`,
        'correio_broker_workers{service="chat"} 3',
        'correio_broker_workers_idle{service="chat"} 2',
        'correio_broker_queue_depth{service="chat"} 0',
        'correio_broker_in_flight{service="chat"} 1',
        'correio_broker_workers{service="bad name with spaces"} 1',
        'correio_broker_workers{service="ref"} 1',
      ].join('\n'),
    );

  it('gives gauges as they are and counts and percentiles over the interval', () => {
    const first = serviceStats(scrape(10, 10, 0), undefined);
    expect(first.find((service) => service.name === 'chat')).toEqual({ name: 'chat', workers: 3, idle: 2, queue_depth: 0, in_flight: 1, requests: 0, errors: 0 });
    const second = serviceStats(scrape(110, 60, 50), scrape(10, 10, 0));
    expect(second.map((service) => service.name)).toEqual(['chat', 'ref']);
    const chat = second[0]!;
    expect(chat).toMatchObject({ requests: 100, errors: 2, workers: 3 });
    // 100 requests: 50 under 1 ms, 50 between 1 and 100 ms.
    expect(chat.p50_us).toBe(1_000);
    expect(chat.p99_us).toBe(Math.round((0.001 + (0.099 * 49) / 50) * 1e6));
    expect(second[1]).toEqual({ name: 'ref', workers: 1, idle: 0, queue_depth: 0, in_flight: 0, requests: 0, errors: 0 });
  });
});

describe('offsetsAgainstCoordinator', () => {
  const server = (id: string, offset?: number): DashboardNode => ({ id, kind: 'server', state: 'up', ...(offset === undefined ? {} : { clock_offset_us: offset }) });

  it("makes each server's offset from the round's agreed time an offset from the coordinator's clock", () => {
    const nodes = offsetsAgainstCoordinator([{ id: 'broker', kind: 'broker', state: 'up' }, server('s1', 3_000), server('s2', -1_000), server('s3')], 's2');
    expect(nodes.map((node) => [node.id, node.clock_offset_us])).toEqual([
      ['broker', undefined],
      ['s1', 4_000],
      ['s2', 0],
      ['s3', undefined],
    ]);
  });

  it("shows no offsets without the coordinator's (none known, or it has not measured yet)", () => {
    for (const coordinator of [undefined, 's3', 'gone']) {
      expect(offsetsAgainstCoordinator([server('s1', 3_000), server('s3')], coordinator).every((node) => node.clock_offset_us === undefined)).toBe(true);
    }
  });
});
