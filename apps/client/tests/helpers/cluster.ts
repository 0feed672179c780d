// A broker, a proxy and the fake chat server, in the test process, on free 127.0.0.1 ports.
import { MajordomoBroker, PubSubProxy } from '@correio/transport';
import { createServer } from 'node:net';
import { FakeChatServer } from './FakeChatServer.js';

export interface Cluster {
  readonly broker: MajordomoBroker;
  readonly proxy: PubSubProxy;
  readonly server: FakeChatServer;
  /** The broker's MDP endpoint. */
  readonly brokerEndpoint: string;
  /** The proxy's publisher (XSUB) and subscriber (XPUB) sides. */
  readonly proxyPub: string;
  readonly proxySub: string;
  close(): Promise<void>;
}

export interface ClusterOptions {
  /** Heartbeat between broker and worker, ms. Short when a test restarts the broker. */
  readonly heartbeatMs?: number;
}

export async function startBroker(endpoint: string, heartbeatMs = 2_500): Promise<MajordomoBroker> {
  const broker = new MajordomoBroker({ endpoints: [endpoint], id: 'broker-test', heartbeatIntervalMs: heartbeatMs });
  await broker.start();
  return broker;
}

export async function startProxy(frontend = 'tcp://127.0.0.1:*', backend = 'tcp://127.0.0.1:*'): Promise<PubSubProxy> {
  const proxy = new PubSubProxy({ frontend, backend });
  await proxy.start();
  return proxy;
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const broker = await startBroker('tcp://127.0.0.1:*', options.heartbeatMs);
  const proxy = await startProxy();
  const brokerEndpoint = broker.endpoints[0]!;
  const server = new FakeChatServer({ broker: brokerEndpoint, proxyPub: proxy.frontend, ...(options.heartbeatMs ? { heartbeatInterval: options.heartbeatMs } : {}) }).start();
  await waitFor(() => broker.snapshot().workers >= 4, 10_000, 'the fake server to register with the broker');
  return {
    broker,
    proxy,
    server,
    brokerEndpoint,
    proxyPub: proxy.frontend,
    proxySub: proxy.backend,
    close: async () => {
      await server.stop();
      await proxy.close();
      await broker.close();
    },
  };
}

/** Polls `condition` every 20 ms until it holds; throws after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A TCP port that was free a moment ago (for a broker or proxy that must come back on the same port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
