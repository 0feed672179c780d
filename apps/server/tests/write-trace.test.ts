// CORREIO_TRACE_WRITES (libs/observability writeTrace.ts, used by `npm run bench:trace`): with it
// set, the broker and three servers (s1 with --ack-peers 2), all child processes over TCP, log
// every hop of one acknowledged write under its request id, in order on one clock.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ChatClient, eventually } from './helpers/chat.js';
import { fileScratch, startInfrastructure, startServerProcesses } from './helpers/processes.js';

const IDS = ['s1', 's2', 's3'] as const;
const WRITE_ID = 'traced-write-0001';
let client: ChatClient;
const scratch = fileScratch({ closeFirst: () => client?.close() });
const traceDir = join(scratch.dir, 'trace');

beforeAll(async () => {
  process.env.CORREIO_TRACE_WRITES = traceDir; // inherited by every child process started below
  try {
    const infra = await startInfrastructure();
    await startServerProcesses(infra, IDS, scratch.dir, (id) => ['--peers', IDS.join(','), '--no-ref', ...(id === 's1' ? ['--ack-peers', '2', '--ack-timeout', '5000'] : [])]);
    client = new ChatClient(infra.broker, 'trace-test');
  } finally {
    delete process.env.CORREIO_TRACE_WRITES;
  }
}, 90_000);

/** Every traced line naming `key`: [file, epoch ms, hop, detail]. */
function linesOf(key: string): { file: string; at: number; hop: string; detail: string | undefined }[] {
  if (!existsSync(traceDir)) return [];
  return readdirSync(traceDir).flatMap((file) =>
    readFileSync(join(traceDir, file), 'utf8')
      .split('\n')
      .map((line) => line.split(' '))
      .filter((fields) => fields[2] === key)
      .map(([at, hop, , detail]) => ({ file, at: Number(at), hop: hop!, detail })),
  );
}

describe('CORREIO_TRACE_WRITES', () => {
  it('logs every hop of an acknowledged, replicated write: broker, origin, both peers, confirmations, reply', async () => {
    await client.call('srv.s1', 'chat.login.request', { user: 'tia' });
    await client.call('srv.s1', 'chat.channel.create.request', { user: 'tia', channel: 'traced' });
    await client.call('srv.s1', 'chat.publish.request', { user: 'tia', channel: 'traced', text: 'where does the time go' }, { id: WRITE_ID, retries: 0 });

    const originHops = ['worker.received', 'worker.decoded', 'server.handler', 'server.commit.start', 'server.commit.txn', 'server.commit.durable', 'server.announced', 'server.confirmed', 'worker.handled', 'worker.replied'];
    const expected = ['broker.request', 'broker.dispatched', 'broker.replied', ...originHops, 'origin.apply.sent', 'origin.apply.confirmed', 'peer.apply.start', 'peer.apply.durable'];
    // Each process appends what it holds every second.
    await eventually(() => {
      const hops = new Set(linesOf(WRITE_ID).map((line) => line.hop));
      return expected.every((hop) => hops.has(hop)) && linesOf(WRITE_ID).filter((line) => line.hop === 'peer.apply.durable').length === 2;
    }, 15_000, 'every hop of the write traced');

    const lines = linesOf(WRITE_ID);
    const at = (hop: string) => lines.find((line) => line.hop === hop)!.at;
    // The origin's hops come from one process, in the order the write passes them.
    const origin = lines.find((line) => line.hop === 'server.commit.start')!.file;
    const times = originHops.map((hop) => lines.find((line) => line.hop === hop && line.file === origin)!.at);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // Both peers (other processes) applied it, named by the origin's sends and confirmations.
    const peers = lines.filter((line) => line.hop === 'peer.apply.durable');
    expect(new Set(peers.map((line) => line.file)).size).toBe(2);
    expect(peers.every((line) => line.file !== origin)).toBe(true);
    expect(lines.filter((line) => line.hop === 'origin.apply.confirmed').map((line) => line.detail).sort()).toEqual(['s2', 's3']);
    // Broker in, origin's commit, peers durable, confirmations, broker out: one shared clock.
    expect(at('broker.request')).toBeLessThanOrEqual(at('server.commit.durable'));
    for (const peer of peers) expect(peer.at).toBeLessThanOrEqual(at('server.confirmed'));
    expect(at('server.confirmed')).toBeLessThanOrEqual(at('broker.replied'));
    // The peers' batch ids link to the broker's relays of those batches.
    const batches = new Set(lines.filter((line) => line.hop === 'peer.apply.start').map((line) => line.detail!));
    for (const batch of batches) expect(linesOf(batch).map((line) => line.hop)).toEqual(expect.arrayContaining(['broker.request', 'broker.dispatched', 'worker.received', 'worker.replied', 'broker.replied']));
  });
});
