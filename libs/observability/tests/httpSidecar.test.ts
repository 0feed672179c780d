import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics, startHttpSidecar, type HttpSidecar } from '@correio/observability';

describe('startHttpSidecar', () => {
  let sidecar: HttpSidecar | undefined;
  afterEach(async () => {
    await sidecar?.close();
    sidecar = undefined;
  });

  it('answers /health with 200 when ready and 503 when not, as JSON', async () => {
    let ready = false;
    sidecar = await startHttpSidecar({ port: 0, health: () => ({ ready, status: ready ? 'ok' : 'starting', workers: 2 }) });
    const starting = await fetch(`${sidecar.url}/health`);
    expect(starting.status).toBe(503);
    expect(starting.headers.get('content-type')).toBe('application/json');
    expect(await starting.json()).toEqual({ ready: false, status: 'starting', workers: 2 });
    ready = true;
    const ok = await fetch(`${sidecar.url}/health`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ ready: true, status: 'ok' });
  });

  it("reports the program's version in /health, unless the health answer has its own", async () => {
    sidecar = await startHttpSidecar({ port: 0, version: '1.2.3', health: () => ({ ready: true, status: 'ok' }) });
    expect(await (await fetch(`${sidecar.url}/health`)).json()).toEqual({ version: '1.2.3', ready: true, status: 'ok' });
    await sidecar.close();
    sidecar = await startHttpSidecar({ port: 0, version: '1.2.3', health: () => ({ ready: true, version: '9.9.9' }) });
    expect(await (await fetch(`${sidecar.url}/health`)).json()).toEqual({ version: '9.9.9', ready: true });
  });

  it('serves correio_-prefixed metrics in the Prometheus text format', async () => {
    const metrics = createMetrics({ processMetrics: false, defaultLabels: { instance: 'test' } });
    const requests = metrics.counter('requests_total', { help: 'Requests received.', labelNames: ['service'] });
    let depth = 0;
    metrics.gauge('queue_depth', { help: 'Queued requests.', collect: (gauge) => gauge.set(depth) });
    const latency = metrics.histogram('request_duration_seconds', { help: 'Latency.' });
    requests.inc({ service: 'echo' }, 3);
    depth = 7;
    latency.observe(0.0003);
    sidecar = await startHttpSidecar({ port: 0, health: () => ({ ready: true }), registry: metrics });
    const response = await fetch(`${sidecar.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(text).toContain('correio_requests_total{service="echo",instance="test"} 3');
    expect(text).toContain('correio_queue_depth{instance="test"} 7');
    expect(text).toContain('correio_request_duration_seconds_bucket{le="0.0005",instance="test"} 1');
  });

  it('includes process metrics by default, under the same prefix', async () => {
    const metrics = createMetrics();
    expect(await metrics.metrics()).toContain('correio_process_cpu_user_seconds_total');
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    sidecar = await startHttpSidecar({ port: 0, health: () => ({ ready: true }) });
    expect((await fetch(`${sidecar.url}/nope`)).status).toBe(404);
    expect((await fetch(`${sidecar.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${sidecar.url}/health`, { method: 'POST' })).status).toBe(405);
  });

  it('answers 500 with the message when the health check throws', async () => {
    sidecar = await startHttpSidecar({
      port: 0,
      health: () => {
        throw new Error('broken probe');
      },
    });
    const response = await fetch(`${sidecar.url}/health`);
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: 'broken probe' });
  });

  it('rejects metric names that Prometheus would not accept', () => {
    const metrics = createMetrics({ processMetrics: false });
    expect(() => metrics.counter('bad-name', { help: 'x' })).toThrow(/invalid metric name/);
  });
});
