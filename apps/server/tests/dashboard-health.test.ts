// What an operator's dashboard reads from the servers (protocol revision 1.3), over real sockets:
// broker, proxy, reference server and two chat servers as child processes. Each server registers
// its /health URL with the reference server, which lists it in ref.servers.reply.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RefServersReply } from '@correio/protocol';
import { waitFor } from '@correio/testing';
import { RequestClient } from '@correio/transport';
import { startClusterServer, startRefProcess } from './helpers/cluster.js';
import { fileScratch, startInfrastructure, type ServerProcess } from './helpers/processes.js';

const IDS = ['d1', 'd2'] as const;
let servers: ServerProcess[];
let raw: RequestClient;
const scratch = fileScratch({ prefix: 'correio-dashboard-', closeFirst: () => raw?.close() });

beforeAll(async () => {
  const infra = await startInfrastructure();
  await startRefProcess(infra, join(scratch.dir, 'ref'));
  servers = await Promise.all(IDS.map((id) => startClusterServer(infra, id, join(scratch.dir, id))));
  raw = new RequestClient({ endpoint: infra.broker, from: 'dashboard-test', timeout: 3_000 });
}, 120_000);

describe('the servers as a dashboard sees them', () => {
  it('each server registers its /health URL, and the reference server lists it', async () => {
    const listed = await waitFor(async () => {
      const reply = (await raw.request('ref', 'ref.servers.request', {})).body as RefServersReply;
      return reply.servers.length === IDS.length ? reply.servers : undefined;
    }, 'both servers listed', 15_000);
    for (const server of servers) {
      expect(listed.find((entry) => entry.server === server.id)?.http).toBe(server.http);
      const health = await fetch(`${listed.find((entry) => entry.server === server.id)!.http!}/health`);
      expect(((await health.json()) as { id: string }).id).toBe(server.id);
    }
  });
});
