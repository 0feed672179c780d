// The server as an operator runs it: its command line, a graceful SIGTERM and a restart, and the
// stores it must refuse to serve from (damaged, another server's, in use).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ChatClient, wholeHistory } from './helpers/chat.js';
import { fileScratch, serverMain, spawnTs, startInfrastructure, startServerProcess, type Infrastructure } from './helpers/processes.js';

let infra: Infrastructure;
let client: ChatClient;
const scratch = fileScratch({ closeFirst: () => client?.close() });

beforeAll(async () => {
  infra = await startInfrastructure();
  client = new ChatClient(infra.broker);
}, 60_000);

function serverArgs(id: string, dataDir: string, extra: readonly string[] = []): string[] {
  return ['--id', id, '--data-dir', dataDir, '--broker', infra.broker, '--proxy-pub', infra.proxy.pub, '--proxy-sub', infra.proxy.sub, '--heartbeat', '250', ...extra];
}

/** Runs the server expecting it to refuse to start: resolves with its exit code and stderr. */
async function refusal(args: readonly string[]): Promise<{ code: number | null; stderr: string; stdout: string[] }> {
  const child = spawnTs('refused server', serverMain, args);
  const { code } = await child.exited;
  return { code, stderr: child.stderr, stdout: child.lines };
}

/** A server with one channel holding `texts`, stopped gracefully. */
async function populatedStore(id: string, texts: readonly string[]): Promise<string> {
  const dataDir = join(scratch.dir, id);
  const server = await startServerProcess(infra, id, dataDir);
  await client.call(`srv.${id}`, 'chat.login.request', { user: 'ana' });
  await client.call(`srv.${id}`, 'chat.channel.create.request', { user: 'ana', channel: 'kept' });
  for (const text of texts) await client.call(`srv.${id}`, 'chat.publish.request', { user: 'ana', channel: 'kept', text });
  server.child.kill('SIGTERM');
  expect((await server.child.exited).code).toBe(0);
  return dataDir;
}

describe('the correio-server command', () => {
  it('documents every flag and its environment variable in --help', async () => {
    const child = spawnTs('help', serverMain, ['--help']);
    expect((await child.exited).code).toBe(0);
    const help = child.lines.join('\n');
    for (const flag of ['--id', '--broker', '--proxy-pub', '--proxy-sub', '--data-dir', '--http-port', '--log-level', '--concurrency', '--verify']) expect(help).toContain(flag);
    for (const env of ['CORREIO_SERVER_ID', 'CORREIO_SERVER_DATA_DIR', 'CORREIO_SERVER_BROKER', 'CORREIO_LOG_LEVEL']) expect(help).toContain(env);
    // Password mode unless told otherwise.
    expect(help.replace(/\s+/g, ' ')).toContain('can act as any user) (choices: "password", "open", default: "password", env: CORREIO_SERVER_AUTH)');
  });

  it('refuses to start without an id, with one clear line', async () => {
    const { code, stderr } = await refusal(['--data-dir', join(scratch.dir, 'no-id')]);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/--id/);
  });

  it('takes its settings from CORREIO_SERVER_* variables too', async () => {
    const child = spawnTs('env server', serverMain, [], {
      CORREIO_SERVER_ID: 'env1',
      CORREIO_SERVER_DATA_DIR: join(scratch.dir, 'env1'),
      CORREIO_SERVER_BROKER: infra.broker,
      CORREIO_SERVER_PROXY_PUB: infra.proxy.pub,
      CORREIO_SERVER_PROXY_SUB: infra.proxy.sub,
      CORREIO_SERVER_HEARTBEAT: '250',
    });
    expect(await child.waitForLine(/^server ready /)).toMatch(/^server ready env1 broker=\S+ data=\S+env1 ops=0$/);
    await expect(client.call('srv.env1', 'chat.users.request', {})).resolves.toEqual({ users: [] });
    child.kill('SIGTERM');
    expect((await child.exited).code).toBe(0);
  });
});

describe('stopping and restarting', () => {
  it('drains on SIGTERM, exits 0, and serves everything again after a restart', async () => {
    const texts = Array.from({ length: 12 }, (_, i) => `kept ${i}`);
    const dataDir = await populatedStore('g1', texts);
    const again = await startServerProcess(infra, 'g1', dataDir);
    expect(again.readyLine).toMatch(/ ops=14 /); // a login, a channel, 12 publications
    expect((await wholeHistory(client, 'srv.g1', 'kept')).map((p) => p.text)).toEqual(texts);
    // New operations continue the sequence, stamped after the old ones.
    const next = await client.call('srv.g1', 'chat.publish.request', { user: 'ana', channel: 'kept', text: 'after the restart' });
    expect(next.op).toEqual({ origin: 'g1', seq: 15 });
    const history = await wholeHistory(client, 'srv.g1', 'kept');
    expect(history.at(-1)!.text).toBe('after the restart');
    expect(history.at(-1)!.lc).toBeGreaterThan(history.at(-2)!.lc);
    again.child.kill('SIGTERM');
    expect((await again.child.exited).code).toBe(0);
  });
});

describe('stores it refuses to serve from', () => {
  it('a damaged store: exits non-zero naming the damage, unless verification is turned off', async () => {
    const dataDir = await populatedStore('d1', ['an honest message', 'CORRUPT-ME-4f2a9c', 'another honest one']);
    // Flip one character of the stored text, wherever it sits (the operation log and the history index).
    const file = join(dataDir, 'data.mdb');
    const bytes = readFileSync(file);
    const marker = Buffer.from('CORRUPT-ME-4f2a9c');
    let flipped = 0;
    for (let at = bytes.indexOf(marker); at >= 0; at = bytes.indexOf(marker, at + 1)) {
      bytes[at] = 'X'.charCodeAt(0);
      flipped++;
    }
    expect(flipped).toBeGreaterThan(0);
    writeFileSync(file, bytes);

    const { code, stderr, stdout } = await refusal(serverArgs('d1', dataDir));
    expect(code).toBe(1);
    expect(stdout).toEqual([]); // never ready
    expect(stderr).toMatch(/correio-server: the store at \S+ is damaged \(digest mismatch: .*\); refusing to serve from it/);

    // An operator may choose to serve it anyway; the default never does.
    const forced = await startServerProcess(infra, 'd1', dataDir, ['--verify', 'off']);
    expect(forced.readyLine).toMatch(/^server ready d1 /);
    forced.child.kill('SIGTERM');
    await forced.child.exited;
  });

  it('a file that is not an LMDB store at all', async () => {
    const dataDir = join(scratch.dir, 'garbage');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'data.mdb'), Buffer.alloc(64 * 1024, 0x5a));
    const { code, stderr } = await refusal(serverArgs('x1', dataDir));
    expect(code).toBe(1);
    expect(stderr).toMatch(/correio-server: the store at \S+ cannot be opened/);
  });

  it("another server's store", async () => {
    const dataDir = await populatedStore('o1', ['mine']);
    const { code, stderr } = await refusal(serverArgs('o2', dataDir));
    expect(code).toBe(1);
    expect(stderr).toMatch(/belongs to server o1, not o2/);
  });

  it('a store another live server process is using', async () => {
    const dataDir = join(scratch.dir, 'busy');
    const owner = await startServerProcess(infra, 'b1', dataDir);
    const { code, stderr } = await refusal(serverArgs('b1', dataDir));
    expect(code).toBe(1);
    expect(stderr).toMatch(new RegExp(`in use by process ${owner.child.process.pid}`));
    // The owner was not disturbed.
    await expect(client.call('srv.b1', 'chat.login.request', { user: 'still-fine' })).resolves.toMatchObject({ created: true });
  });
});
