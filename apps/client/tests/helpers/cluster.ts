// A broker, a proxy and the fake chat server, in the test process, on free 127.0.0.1 ports.
import { freePort, scratchDir, waitFor, type ScratchDir } from '@correio/testing';
import { MajordomoBroker, PubSubProxy } from '@correio/transport';
import type { Cleanups } from './cleanups.js';
import { FakeChatServer, type FakeChatServerOptions } from './FakeChatServer.js';

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
  /** The fake server's auth mode and token lifetimes. */
  readonly auth?: Pick<FakeChatServerOptions, 'auth' | 'accessTtlMs' | 'refreshTtlMs' | 'clockAheadMs'>;
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

/**
 * A broker and a proxy in the test process, and a scratch directory for real programs' data, each
 * stopped or removed by `cleanups`: what the tests that spawn the real server programs run them next to.
 */
export async function startRealInfrastructure(cleanups: Cleanups, options: { readonly heartbeatMs: number; readonly scratchPrefix: string }): Promise<{ broker: MajordomoBroker; proxy: PubSubProxy; data: ScratchDir }> {
  const broker = await startBroker('tcp://127.0.0.1:*', options.heartbeatMs);
  cleanups.push(() => broker.close());
  const proxy = await startProxy();
  cleanups.push(() => proxy.close());
  const data = scratchDir(options.scratchPrefix);
  cleanups.push(async () => data.remove());
  return { broker, proxy, data };
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const broker = await startBroker('tcp://127.0.0.1:*', options.heartbeatMs);
  const proxy = await startProxy();
  const brokerEndpoint = broker.endpoints[0]!;
  const server = new FakeChatServer({
    broker: brokerEndpoint,
    proxyPub: proxy.frontend,
    ...(options.heartbeatMs ? { heartbeatInterval: options.heartbeatMs } : {}),
    ...options.auth,
  }).start();
  await waitFor(() => broker.snapshot().workers >= 4, 'the fake server to register with the broker', 10_000);
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

/** A cluster whose broker listens on a fixed port, to be stopped and started again; short heartbeats, so that either is noticed soon. */
export interface RestartableCluster {
  readonly brokerEndpoint: string;
  readonly proxy: PubSubProxy;
  readonly server: FakeChatServer;
  stopBroker(): Promise<void>;
  /** A new broker on the same endpoint. */
  restartBroker(): Promise<void>;
}

/** A RestartableCluster, closed after the test through `cleanups` (the latest broker included). */
export async function startRestartableCluster(cleanups: Cleanups, heartbeatMs = 300): Promise<RestartableCluster> {
  const brokerEndpoint = `tcp://127.0.0.1:${await freePort()}`;
  let broker = await startBroker(brokerEndpoint, heartbeatMs);
  cleanups.push(() => broker.close());
  const proxy = await startProxy();
  cleanups.push(() => proxy.close());
  const server = new FakeChatServer({ broker: brokerEndpoint, proxyPub: proxy.frontend, heartbeatInterval: heartbeatMs }).start();
  cleanups.push(() => server.stop());
  return {
    brokerEndpoint,
    proxy,
    server,
    stopBroker: () => broker.close(),
    restartBroker: async () => {
      broker = await startBroker(brokerEndpoint, heartbeatMs);
    },
  };
}

/** startCluster, closed after the test through `cleanups`. */
export async function startClusterFor(cleanups: Cleanups, options: ClusterOptions = {}): Promise<Cluster> {
  const cluster = await startCluster(options);
  cleanups.push(() => cluster.close());
  return cluster;
}
