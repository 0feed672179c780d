import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { NetworkLab } from '@correio/netns';

const CORREIO = fileURLToPath(new URL('../../../apps/cli/bin/correio.mjs', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PREFIX = 'correio-netns-test';

/** A program on one lab host, its output kept line by line. */
class Program {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;

  constructor(lab: NetworkLab, host: string, name: string, args: readonly string[], env: Record<string, string>) {
    this.name = name;
    const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('CORREIO_')));
    this.child = lab.spawn(host, process.execPath, [CORREIO, ...args], { cwd: REPO_ROOT, env: { ...clean, ...env } });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      let pending = '';
      stream.on('data', (chunk: Buffer) => {
        pending += chunk.toString();
        const parts = pending.split('\n');
        pending = parts.pop()!;
        this.lines.push(...parts);
      });
    }
    this.exited = new Promise((resolve) => this.child.once('close', (code) => resolve(code)));
  }

  async waitFor(pattern: RegExp, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.lines.find((text) => pattern.test(text));
      if (line !== undefined) return line;
      if (Date.now() > deadline || this.child.exitCode !== null) {
        throw new Error(`${this.name}: no line matching ${pattern} (exit ${this.child.exitCode}); output:\n${this.lines.slice(-30).join('\n')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

const unavailable = NetworkLab.unavailable();
const dataDir = mkdtempSync(join(tmpdir(), 'correio-netns-'));
let lab: NetworkLab | undefined;
afterAll(() => {
  lab?.destroy();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('Correio across hosts (Linux network namespaces)', () => {
  it('runs broker and proxy, ref and three servers on five hosts; a client on a sixth writes, every server holds it', async (context) => {
    if (unavailable) {
      context.skip(`skipped: ${unavailable}. Run as root on Linux with iproute2 to test Correio across hosts.`);
      return;
    }
    lab = NetworkLab.create({ hosts: ['gateway', 'ref', 'srv1', 'srv2', 'srv3', 'client'], prefix: PREFIX });
    const ip = (host: string) => lab!.host(host).ip;
    const gateway = ip('gateway');
    const endpoints = { broker: `tcp://${gateway}:5555`, pub: `tcp://${gateway}:5570`, sub: `tcp://${gateway}:5571` };
    const programs: Program[] = [];
    const start = (host: string, name: string, args: string[], env: Record<string, string>) => {
      const program = new Program(lab!, host, name, args, env);
      programs.push(program);
      return program;
    };
    try {
      // Configured only through environment variables, as in tools/docker/compose.yaml; each binds its own host's address.
      const broker = start('gateway', 'broker', ['broker'], { CORREIO_BROKER_ENDPOINT: 'tcp://*:5555', CORREIO_HTTP_HOST: gateway, CORREIO_HTTP_PORT: '9100' });
      const proxy = start('gateway', 'proxy', ['proxy'], { CORREIO_PROXY_PUBLISHERS: 'tcp://*:5570', CORREIO_PROXY_SUBSCRIBERS: 'tcp://*:5571', CORREIO_HTTP_HOST: gateway, CORREIO_HTTP_PORT: '9101' });
      await broker.waitFor(/^broker ready tcp:\/\/\S+:5555 http=/, 60_000);
      await proxy.waitFor(/^proxy ready publishers=\S+:5570 subscribers=\S+:5571/, 60_000);
      const ref = start('ref', 'ref', ['ref'], {
        CORREIO_REF_BROKER: endpoints.broker,
        CORREIO_REF_PROXY_PUB: endpoints.pub,
        CORREIO_REF_PROXY_SUB: endpoints.sub,
        CORREIO_REF_DATA_DIR: join(dataDir, 'ref'),
        CORREIO_REF_ID: 'ref',
        CORREIO_HTTP_HOST: ip('ref'),
        CORREIO_HTTP_PORT: '9102',
      });
      await ref.waitFor(/^ref ready ref /, 60_000);
      const servers = [1, 2, 3].map((i) =>
        start(`srv${i}`, `srv-${i}`, ['server'], {
          CORREIO_SERVER_ID: `srv-${i}`,
          CORREIO_SERVER_DATA_DIR: join(dataDir, `srv-${i}`),
          CORREIO_SERVER_BROKER: endpoints.broker,
          CORREIO_SERVER_PROXY_PUB: endpoints.pub,
          CORREIO_SERVER_PROXY_SUB: endpoints.sub,
          CORREIO_HTTP_HOST: ip(`srv${i}`),
          CORREIO_HTTP_PORT: String(9110 + i),
          // srv-1 and srv-2 take their peers' requests on their own address (FRAMES.md §1.11); srv-3 through the broker only.
          ...(i < 3 ? { CORREIO_SERVER_PEER_BIND: `tcp://${ip(`srv${i}`)}:5601` } : {}),
          // srv-1 acknowledges a write once both peers hold it: one batch per write to each, directly to srv-2.
          ...(i === 1 ? { CORREIO_SERVER_ACK_PEERS: '2' } : {}),
        }),
      );
      for (const [i, server] of servers.entries()) {
        const ready = await server.waitFor(/^server ready /, 90_000);
        expect(ready).toContain(`server ready srv-${i + 1} broker=${endpoints.broker}`);
        expect(ready).toContain(`http=http://${ip(`srv${i + 1}`)}:${9111 + i}`);
      }

      // srv-1 knows srv-2's direct endpoint (from the ref's list) before the writes begin.
      const srv2Peer = `tcp://${ip('srv2')}:5601`;
      const knowsPeer = (): boolean => {
        const body = lab!.run('client', process.execPath, ['-e', `fetch('http://${ip('srv1')}:9111/health').then(async (r) => console.log(await r.text()))`]);
        const view = JSON.parse(body) as { cluster: { servers: { server: string; peer?: string }[] } };
        return view.cluster.servers.some((entry) => entry.server === 'srv-2' && entry.peer === srv2Peer);
      };
      for (let attempt = 0; !knowsPeer(); attempt++) {
        if (attempt >= 100) throw new Error(`srv-1 did not learn srv-2's direct endpoint ${srv2Peer} in 10 s`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }

      // A client on its own host writes through srv-1: 60 messages, all acknowledged.
      const bot = start('client', 'bot', ['client', 'bot', '--messages', '60', '--rate', '30', '--users', '3', '--json', '--quiet'], {
        CORREIO_BROKER: endpoints.broker,
        CORREIO_PROXY_SUB: endpoints.sub,
        CORREIO_CHAT_SERVICE: 'srv.srv-1',
      });
      expect(await bot.exited, bot.lines.join('\n')).toBe(0);
      const report = JSON.parse(bot.lines.find((line) => line.startsWith('{'))!) as { sent: { total: { sent: number; acked: number } }; gaps: { count: number } };
      expect(report.sent.total).toMatchObject({ sent: 60, acked: 60 });

      // Replication carries every operation to the other two hosts; the three stores converge
      // (same operation count and digest), and they agree on one coordinator with the ref.
      const health = <T>(host: string, port: number): T => JSON.parse(lab!.run('client', process.execPath, ['-e', `fetch('http://${ip(host)}:${port}/health').then(async (r) => console.log(await r.text()))`])) as T;
      const deadline = Date.now() + 30_000;
      let digests: { ops: number; hash: string }[] = [];
      for (;;) {
        digests = [1, 2, 3].map((i) => health<{ store: { ops: number; hash: string } }>(`srv${i}`, 9110 + i).store);
        if (digests.every((d) => d.hash === digests[0]!.hash && d.ops === digests[0]!.ops) || Date.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(digests[0]!.ops).toBeGreaterThanOrEqual(60);
      expect(digests.map((d) => d.hash)).toEqual([digests[0]!.hash, digests[0]!.hash, digests[0]!.hash]);
      // srv-1 confirmed the writes with srv-2 across the hosts directly, and with srv-3 through the broker.
      const links = health<{ peerLink: { endpoint?: string; direct: number; viaBroker: number } }>('srv1', 9111).peerLink;
      expect(links.endpoint).toBe(`tcp://${ip('srv1')}:5601`);
      expect(links.direct).toBeGreaterThanOrEqual(60);
      expect(links.viaBroker).toBeGreaterThanOrEqual(60);
      expect(health<{ peerLink: { served: number } }>('srv2', 9112).peerLink.served).toBeGreaterThanOrEqual(60);
      const coordinator = health<{ coordinator: string | null }>('ref', 9102).coordinator;
      expect(['srv-1', 'srv-2', 'srv-3']).toContain(coordinator);

      // Every program stops cleanly on SIGTERM: servers first, then the ref, then broker and proxy.
      for (const group of [servers, [ref], [broker, proxy]]) {
        for (const program of group) program.child.kill('SIGTERM');
        for (const program of group) expect(await program.exited, `${program.name}:\n${program.lines.slice(-20).join('\n')}`).toBe(0);
      }
    } finally {
      for (const program of programs) if (program.child.exitCode === null) program.child.kill('SIGKILL');
      lab.destroy();
    }
    expect(NetworkLab.namespaces(PREFIX).filter((name) => name.includes(`-${process.pid}-`))).toEqual([]);
  });
});
