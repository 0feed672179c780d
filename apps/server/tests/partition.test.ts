// A network partition, for real: the broker and the proxy run in one Linux network namespace (the
// hub, with a bridge), each of three servers in its own namespace joined to the hub by a veth pair
// with its own IP. One server is cut off with blackhole routes (both directions); writes land on
// both sides; the routes are removed and every store must converge, every write present exactly
// once. Needs root and `ip netns`; otherwise the test is skipped, saying why (in CI, it fails). The test process
// reaches the broker through an ipc:// endpoint (a Unix socket: no namespace), so it needs no
// address in any namespace and the host's own network is never touched.
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequestClient } from '@correio/transport';
import { ChatClient } from './helpers/chat.js';
import { Child, killAll, programCommand, scratchDir, workspaceRoot } from '@correio/testing';
import { brokerMain, proxyMain, serverMain, TEST_HEARTBEAT_MS } from './helpers/processes.js';
import { converged, digestOf, historyPages, tally, untilAcknowledged } from './replication-support.js';

const PREFIX = `crp${process.pid}`;
const SUBNET = '10.77.0';
const HUB_IP = `${SUBNET}.1`;
const IDS = ['s1', 's2', 's3'] as const;
const ipOf = (id: string) => `${SUBNET}.${10 + IDS.indexOf(id as (typeof IDS)[number]) + 1}`;
const nsOf = (id: string) => `${PREFIX}-${id}`;
const HUB = `${PREFIX}-hub`;

/** Why namespaces cannot be used here, or undefined when they can. */
function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not running as root';
  const probe = `${PREFIX}-probe`;
  const added = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (added.error || added.status !== 0) return `"ip netns add" failed: ${added.error?.message ?? added.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return undefined;
}

function ip(...args: string[]): void {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ip ${args.join(' ')}: ${result.error?.message ?? result.stderr.trim()}`);
}

const created: string[] = [];

/** The hub (bridge, broker, proxy) and one namespace per server, each with a veth into the hub's bridge. */
function buildNetwork(): void {
  removeStaleNamespaces();
  for (const ns of [HUB, ...IDS.map(nsOf)]) {
    ip('netns', 'add', ns);
    created.push(ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  ip('-n', HUB, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', HUB, 'addr', 'add', `${HUB_IP}/24`, 'dev', 'br0');
  ip('-n', HUB, 'link', 'set', 'br0', 'up');
  for (const id of IDS) {
    // Created in the namespaces themselves: no interface ever appears in the host's namespace.
    ip('link', 'add', 'eth0', 'netns', nsOf(id), 'type', 'veth', 'peer', 'name', `v-${id}`, 'netns', HUB);
    ip('-n', HUB, 'link', 'set', `v-${id}`, 'master', 'br0');
    ip('-n', HUB, 'link', 'set', `v-${id}`, 'up');
    ip('-n', nsOf(id), 'addr', 'add', `${ipOf(id)}/24`, 'dev', 'eth0');
    ip('-n', nsOf(id), 'link', 'set', 'eth0', 'up');
  }
}

/** Namespaces a crashed earlier run of this test left behind (its process is gone). */
function removeStaleNamespaces(): void {
  const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of listed.split('\n')) {
    const match = /^(crp(\d+)-\S+)/.exec(line.trim());
    if (!match) continue;
    const pid = Number(match[2]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (!alive) spawnSync('ip', ['netns', 'del', match[1]!]);
  }
}

function removeNetwork(): void {
  for (const ns of created.splice(0).reverse()) spawnSync('ip', ['netns', 'del', ns]);
}

/** Cuts `id` off from the hub, both ways: blackhole routes in its namespace and in the hub's. */
function cut(id: string): void {
  ip('-n', nsOf(id), 'route', 'add', 'blackhole', `${HUB_IP}/32`);
  ip('-n', HUB, 'route', 'add', 'blackhole', `${ipOf(id)}/32`);
}

function heal(id: string): void {
  ip('-n', nsOf(id), 'route', 'del', 'blackhole', `${HUB_IP}/32`);
  ip('-n', HUB, 'route', 'del', 'blackhole', `${ipOf(id)}/32`);
}

/** A TypeScript program run under tsx inside a namespace (`ip netns exec` execs it: the child's pid is the program's). */
function spawnIn(ns: string, name: string, script: string, args: readonly string[]): Child {
  const child = spawn('ip', ['netns', 'exec', ns, ...programCommand(script, args)], {
    cwd: workspaceRoot,
    env: { ...process.env, CORREIO_LOG_LEVEL: 'warn', CORREIO_SERVER_AUTH: 'open' }, // as spawnTs: this test sends the body user
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Child(name, child);
}

const unavailable = netnsUnavailable();
// In CI (CI=true) missing namespaces fail this test: .ci/run runs as root and installs iproute2.
// Elsewhere it is skipped, saying why.
const required = process.env.CI === 'true';
if (unavailable && !required) console.warn(`partition test SKIPPED: it needs Linux network namespaces (root and "ip netns"): ${unavailable}`);
const scratch = scratchDir('correio-partition-');

afterAll(async () => {
  await killAll(); // the processes first, then their namespaces
  removeNetwork();
  scratch.remove();
});

const ANTI_ENTROPY_MS = 500;
const PARTITION_MS = 4_000;
/**
 * The bound docs/architecture.md states (Guarantees: Convergence) after a partition heals: three
 * anti-entropy rounds per peer, plus TCP's retransmission backoff into the healed path, at most the
 * partition's length plus a second.
 */
const convergenceBoundMs = (partitionMs: number) => 3 * ANTI_ENTROPY_MS * (IDS.length - 1) + partitionMs + 1_000;

describe.skipIf(unavailable !== undefined && !required)('a network partition between namespaces', () => {
  beforeAll(() => {
    if (unavailable) throw new Error(`Linux network namespaces are unavailable (${unavailable}), and CI=true requires this test: run as root with iproute2`);
  });

  it('accepts writes on both sides of a blackhole partition and converges once it heals, every write exactly once', async () => {
    buildNetwork();
    const brokerIpc = `ipc://${scratch.dir}/broker.sock`;
    const broker = spawnIn(HUB, 'broker', brokerMain, [
      '--endpoint', `tcp://${HUB_IP}:5555,${brokerIpc}`,
      '--heartbeat', String(TEST_HEARTBEAT_MS),
      '--startup-grace', '0',
    ]);
    const proxy = spawnIn(HUB, 'proxy', proxyMain, ['--publishers', `tcp://${HUB_IP}:5570`, '--subscribers', `tcp://${HUB_IP}:5571`]);
    await Promise.all([broker.waitForLine(/^broker ready /), proxy.waitForLine(/^proxy ready /)]);
    const servers = IDS.map((id) =>
      spawnIn(nsOf(id), `server ${id}`, serverMain, [
        '--id', id,
        '--data-dir', `${scratch.dir}/${id}`,
        '--broker', `tcp://${HUB_IP}:5555`,
        '--proxy-pub', `tcp://${HUB_IP}:5570`,
        '--proxy-sub', `tcp://${HUB_IP}:5571`,
        '--heartbeat', String(TEST_HEARTBEAT_MS),
        '--peers', IDS.join(','),
        '--anti-entropy', String(ANTI_ENTROPY_MS),
        '--no-ref',
      ]),
    );
    await Promise.all(servers.map((server) => server.waitForLine(/^server ready /, 60_000)));
    const client = new ChatClient(brokerIpc, 'partition');
    const writer = new RequestClient({ endpoint: brokerIpc, from: 'partition-writer', timeout: 2_000 });
    try {
      const deadline = Date.now() + 60_000;
      for (const user of ['ana', 'bia']) await client.call('srv.s1', 'chat.login.request', { user });
      await client.call('srv.s1', 'chat.channel.create.request', { user: 'ana', channel: 'split' });
      await converged(client, IDS, 15_000);
      const acknowledged = new Map<string, string>(); // request id → text
      let n = 0;
      const publish = async (service: string, text: string, id = `w-${n++}-${Math.random().toString(36).slice(2, 8)}`) => {
        await untilAcknowledged(() => writer.request(service, 'chat.publish.request', { user: n % 2 ? 'ana' : 'bia', channel: 'split', text }, { id, retries: 0 }), deadline);
        acknowledged.set(id, text);
      };
      for (let i = 0; i < 20; i++) await publish('chat', `before ${i}`);

      // The minority side's writes: requests already inside s3 when the network goes. s3 is paused
      // so they wait in its socket buffers, the cut comes, and s3 resumes and commits them alone.
      const s3 = servers[2]!;
      s3.kill('SIGSTOP');
      const minority = Array.from({ length: 8 }, (_, i) => ({ id: `minority-${i}`, text: `minority side ${i}` }));
      const unanswered = minority.map(({ id, text }) =>
        writer.request('srv.s3', 'chat.publish.request', { user: 'ana', channel: 'split', text }, { id, retries: 0, timeout: 1_500 }).then(
          () => 'acknowledged',
          (error: { code?: string }) => error.code ?? 'error',
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 150)); // the broker hands them to s3's idle connections
      cut('s3');
      const cutAt = performance.now();
      s3.kill('SIGCONT');
      const outcomes = await Promise.all(unanswered);
      expect(outcomes.every((outcome) => outcome !== 'acknowledged')).toBe(true); // s3's replies cannot get out

      // The majority side keeps serving through `chat`; half the minority writes are retried there
      // (same request id: one operation shown once the sides meet), half are left to s3 alone.
      for (let i = 0; i < 30; i++) await publish('chat', `majority side ${i}`);
      for (const { id, text } of minority.slice(0, 4)) await publish('chat', text, id);
      const majority = await converged(client, ['s1', 's2'], 15_000);
      await expect(digestOf(client, 's3', 500)).rejects.toMatchObject({ retryable: true });
      const remaining = PARTITION_MS - (performance.now() - cutAt);
      if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));

      heal('s3');
      const healedAt = performance.now();
      const bound = convergenceBoundMs(healedAt - cutAt);
      const { ms, digest } = await converged(client, IDS, bound);
      expect(ms).toBeLessThan(bound);
      // s3 committed the minority writes during the partition: they are on every server now.
      expect(digest.hwm['s3']).toBeGreaterThanOrEqual(minority.length);
      expect(digest.ops).toBeGreaterThan(majority.digest.ops);

      const expected = [...acknowledged.values(), ...minority.slice(4).map((w) => w.text)];
      const pages = await Promise.all(IDS.map((id) => historyPages(client, `srv.${id}`, 'split', 25)));
      for (const [i, id] of IDS.entries()) {
        const texts = pages[i]!.flatMap((page) => page.messages.map((m) => m.text));
        const counts = tally(texts);
        for (const text of expected) expect(counts.get(text), `${text} on ${id}`).toBe(1);
        expect(texts, `history of ${id}`).toHaveLength(expected.length);
        expect(pages[i]).toEqual(pages[0]);
      }
      console.info(
        `partition: s3 cut off for ${Math.round(healedAt - cutAt)} ms by blackhole routes; ${minority.length} writes committed on s3 alone ` +
          `(4 of them retried on the majority side under the same request id), ${acknowledged.size} acknowledged writes in all; ` +
          `converged ${Math.round(ms)} ms after the heal (bound ${Math.round(bound)} ms), ${digest.ops} operations`,
      );
    } finally {
      await writer.close();
      await client.close();
    }
  }, 120_000);
});
