// The attack of issue 15 against a chat server: a hostile subscriber at the proxy's XPUB, from a raw
// TCP socket speaking ZMTP (apps/proxy/tests/fixtures/hostile-subscriber.ts), with the broker, the
// proxy and a server as child processes. Each 1 MB subscription used to cost the server ~100 MB:
// the proxy passed it on and each of the server's two PUB sockets stored it, a trie node per byte.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, readMetric, spawnProgram, waitFor, workspaceRoot, type Child } from '@correio/testing';
import { ChatClient, Collector, eventually } from './helpers/chat.js';
import { brokerMain, fileScratch, proxyMain, spawnTs, startServerProcess, TEST_HEARTBEAT_MS, type ServerProcess } from './helpers/processes.js';

const hostileSubscriber = join(workspaceRoot, 'apps', 'proxy', 'tests', 'fixtures', 'hostile-subscriber.ts');
const scratch = fileScratch({ prefix: 'correio-hostile-' });
let client: ChatClient | undefined;
let collector: Collector | undefined;

/** One topology per describe block: broker, proxy (with the block's flags) and a server, stopped after its tests. */
function sharedTopology(name: string, proxyArgs: readonly string[]): () => Topology {
  let topo: Topology | undefined;
  beforeAll(async () => {
    topo = await topology(name, proxyArgs);
  }, 90_000);
  afterAll(async () => {
    await collector?.close();
    await client?.close();
    collector = client = undefined;
    await killAll();
  });
  return () => topo!;
}

/** Resident memory of a process, in MiB. */
function rssMiB(child: Child): number {
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${child.process.pid}/status`, 'utf8'))![1]) / 1024;
}

interface Topology {
  readonly proxy: { readonly child: Child; readonly subscribers: string; readonly http: string };
  readonly server: ServerProcess;
  /** Publishes on chan/lobby/ until the collector has `count` more publications. */
  readonly delivers: (count?: number) => Promise<void>;
  /** Publishes on chan/marker/ until the attacker reports its marker subscription `landed` (see the fixture). */
  readonly landed: (attacker: Child) => Promise<void>;
}

/** Broker, proxy (with `proxyArgs`) and one server; a collector on chan/lobby/ receiving the server's publications. */
async function topology(name: string, proxyArgs: readonly string[]): Promise<Topology> {
  const broker = spawnTs('broker', brokerMain, ['--endpoint', 'tcp://127.0.0.1:*', '--heartbeat', String(TEST_HEARTBEAT_MS), '--startup-grace', '0']);
  // ipc:// endpoints of its own: no stray peer of another test can reach this proxy through a reused port.
  const at = (side: string) => `ipc://${join(scratch.dir, `${name}-${side}`)}`;
  const proxyChild = spawnTs('proxy', proxyMain, ['--publishers', at('pub'), '--subscribers', at('sub'), '--http-port', '0', ...proxyArgs]);
  const [brokerLine, proxyLine] = await Promise.all([broker.waitForLine(/^broker ready /), proxyChild.waitForLine(/^proxy ready /)]);
  const field = (line: string, key: string) => new RegExp(`${key}=(\\S+)`).exec(line)![1]!;
  const proxy = { child: proxyChild, subscribers: field(proxyLine, 'subscribers'), http: field(proxyLine, 'http') };
  const infra = { broker: brokerLine.split(' ')[2]!, proxy: { pub: field(proxyLine, 'publishers'), sub: proxy.subscribers } };
  const server = await startServerProcess(infra, 's1', join(scratch.dir, name));
  client = new ChatClient(infra.broker);
  await client.call('srv.s1', 'chat.login.request', { user: 'ana' });
  for (const channel of ['lobby', 'marker']) await client.call('srv.s1', 'chat.channel.create.request', { user: 'ana', channel });
  const lobby = new Collector(proxy.subscribers, ['chan/lobby/']);
  collector = lobby;
  const delivers = async (count = 1) => {
    const target = lobby.received.length + count;
    await eventually(async () => {
      await client!.call('srv.s1', 'chat.publish.request', { user: 'ana', channel: 'lobby', text: 'hello' });
      return lobby.received.length >= target;
    }, 15_000, 'a publication reaching the honest subscriber');
  };
  const landed = (attacker: Child) =>
    eventually(async () => {
      await client!.call('srv.s1', 'chat.publish.request', { user: 'ana', channel: 'marker', text: 'marker' });
      return attacker.events('landed').length > 0;
    }, 20_000, 'the attack reaching the server');
  await delivers();
  return { proxy, server, delivers, landed };
}

function attack(subscribers: string, args: readonly string[]): Child {
  return spawnProgram('hostile subscriber', hostileSubscriber, ['--endpoint', subscribers, ...args]);
}

describe.each([
  ['native', ['--mode', 'native', '--upstream', 'all']],
  ['metered', ['--mode', 'metered', '--max-subscriptions', '200']],
] as const)('a hostile subscriber at the %s proxy, against a chat server behind it', (mode, proxyArgs) => {
  const current = sharedTopology(mode, proxyArgs);

  it('15 subscriptions of 1 MB: each cuts its sender off; server and proxy stay within 25 MiB of their baselines', async () => {
    const { proxy, server, delivers } = current();
    const baseline = { server: rssMiB(server.child), proxy: rssMiB(proxy.child) };
    const attacker = attack(proxy.subscribers, ['--kind', 'big', '--count', '15', '--size', '1000001']);
    expect((await attacker.waitForEvent<{ cut: number }>('done', 1, 20_000)).cut).toBe(15);
    expect(await readMetric(proxy.http, 'correio_proxy_disconnects_total', { side: 'subscribers' })).toBeGreaterThanOrEqual(15);
    await delivers(3);
    expect(rssMiB(server.child)).toBeLessThan(baseline.server + 25);
    expect(rssMiB(proxy.child)).toBeLessThan(baseline.proxy + 25);
  });

  // Each distinct 255-byte topic that reaches a server costs ~11 KB in a PUB socket (a trie node per
  // byte): +36 MiB measured for 3,000. --upstream all passes none on; the metered limit 200 at most.
  it('3,000 distinct topics: the server stays within 15 MiB of its baseline, and the proxy passes on its own topics only once the peer leaves', async () => {
    const { proxy, server, delivers, landed } = current();
    const metric = (name: string, labels: Record<string, string> = {}) => readMetric(proxy.http, name, labels);
    const honestTopics = await metric('correio_proxy_topics_forwarded'); // the server's own and the collector's (metered)
    const baseline = rssMiB(server.child);
    const attacker = attack(proxy.subscribers, ['--kind', 'many', '--count', '3000', '--marker', 'chan/marker/']);
    await landed(attacker);
    if (mode === 'metered') {
      expect(await metric('correio_proxy_subscriptions_refused_total', { reason: 'limit' })).toBe(3000 - (200 - honestTopics));
      expect(await metric('correio_proxy_topics_forwarded')).toBe(200);
    }
    await delivers(3);
    expect(rssMiB(server.child)).toBeLessThan(baseline + 15);
    attacker.kill('SIGKILL');
    if (mode === 'metered') await waitFor(async () => (await metric('correio_proxy_topics_forwarded')) === honestTopics, "the attacker's topics withdrawn", 15_000);
    await delivers(3);
    expect(rssMiB(server.child)).toBeLessThan(baseline + 15);
  });
});
