import { existsSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, readMetric, scratchDir, waitFor } from '@correio/testing';

const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

describe('freePort', () => {
  it('gives a loopback port that can be bound', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  });
});

describe('scratchDir', () => {
  it('makes a fresh directory and removes it with its contents', () => {
    const scratch = scratchDir('correio-testing-');
    writeFileSync(join(scratch.dir, 'file'), 'x');
    scratch.remove();
    scratch.remove();
    expect(existsSync(scratch.dir)).toBe(false);
  });
});

describe('waitFor', () => {
  it('resolves with the first value that is not undefined or false', async () => {
    let calls = 0;
    expect(await waitFor(() => (++calls >= 3 ? `after ${calls}` : false), 'three calls', 5_000, 1)).toBe('after 3');
    expect(await waitFor(async () => 0, 'zero')).toBe(0);
  });

  it('fails after its time-out, naming what it waited for', async () => {
    await expect(waitFor(() => undefined, 'nothing', 50, 10)).rejects.toThrow('timed out after 50 ms waiting for nothing');
  });
});

describe('readMetric', () => {
  it('sums the samples of a metric whose labels match', async () => {
    const text = [
      '# HELP correio_requests_total Requests.',
      '# TYPE correio_requests_total counter',
      'correio_requests_total{service="echo",outcome="ok"} 3',
      'correio_requests_total{service="echo",outcome="error"} 1',
      'correio_requests_total{service="time",outcome="ok"} 5',
      'correio_requests_total_created 17',
      'correio_workers 2',
    ].join('\n');
    const server = createHttpServer((request, response) => response.writeHead(request.url === '/metrics' ? 200 : 404).end(text));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const http = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    expect(await readMetric(http, 'correio_requests_total')).toBe(9);
    expect(await readMetric(http, 'correio_requests_total', { service: 'echo' })).toBe(4);
    expect(await readMetric(http, 'correio_requests_total', { service: 'echo', outcome: 'ok' })).toBe(3);
    expect(await readMetric(http, 'correio_workers')).toBe(2);
    expect(await readMetric(http, 'correio_absent')).toBe(0);
  });
});
