// Identity state is replicated and durable (protocol revision 1.1): one name registered on two
// servers that could not see each other converges to one credential once they replicate (the
// earliest registration wins, the loser's tokens stop verifying), and a restarted server keeps its
// users and passwords. Child processes over TCP, password mode, one shared key-set file.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createKeySetIfMissing } from '@correio/identity';
import { AuthClient } from './helpers/auth.js';
import { eventually } from './helpers/chat.js';
import { fileScratch, startInfrastructure, startServerProcess, type Infrastructure, type ServerProcess } from './helpers/processes.js';

let infra: Infrastructure;
let client: AuthClient;
let keysFile: string;
const scratch = fileScratch({ prefix: 'correio-auth-converge-', closeFirst: () => client?.close() });

function startServer(id: string, peers: readonly string[]): Promise<ServerProcess> {
  const replication = peers.length > 0 ? ['--peers', peers.join(','), '--anti-entropy', '300'] : [];
  return startServerProcess(infra, id, join(scratch.dir, id), ['--no-ref', '--auth', 'password', '--auth-keys', keysFile, ...replication]);
}

beforeAll(async () => {
  keysFile = join(scratch.dir, 'auth-keys.json');
  await createKeySetIfMissing(keysFile);
  infra = await startInfrastructure();
  client = new AuthClient(infra.broker, 'auth-converge-test');
}, 60_000);

describe('replicated, durable identity', () => {
  it('two registrations of one name converge to the earliest; the loser\'s tokens stop verifying; users survive a restart', async () => {
    // Apart: one server at a time, so each accepts the name (s1 first: its registration is the earlier).
    let s1 = await startServer('s1', []);
    const first = await client.signUp('srv.s1', 'dup', 'password of s1');
    const keep = await client.signUp('srv.s1', 'keep', 'kept password');
    await client.call('srv.s1', 'chat.users.request', {}, keep.token);
    await s1.child.stop();
    let s2 = await startServer('s2', []);
    const second = await client.signUp('srv.s2', 'dup', 'password of s2');
    await client.call('srv.s2', 'chat.users.request', {}, second.token);
    await s2.child.stop();

    // Together, on the same data directories.
    [s1, s2] = await Promise.all([startServer('s1', ['s1', 's2']), startServer('s2', ['s1', 's2'])]);
    // Durable: the user and the password survived the restart, and so did the token's credential.
    await client.call('srv.s1', 'chat.users.request', {}, keep.token);
    await client.call('srv.s1', 'chat.login.request', { user: 'keep', password: 'kept password' });

    // s1's registration is the earlier one: once s2 holds it, s2's credential is gone.
    await eventually(async () => (await client.refusal('srv.s2', 'chat.users.request', {}, second.token))?.code === 'UNAUTHENTICATED', 20_000, 'the loser\'s token to stop verifying on s2');
    expect(await client.failure('srv.s1', 'chat.users.request', {}, second.token)).toMatchObject({ code: 'UNAUTHENTICATED', data: { reason: 'credential_changed' } });
    for (const service of ['srv.s1', 'srv.s2']) {
      await client.call(service, 'chat.users.request', {}, first.token);
      expect(await client.failure(service, 'chat.login.request', { user: 'dup', password: 'password of s2' }), service).toMatchObject({ code: 'UNAUTHENTICATED' });
      await client.call(service, 'chat.login.request', { user: 'dup', password: 'password of s1' });
    }
    expect(s1.child.alive && s2.child.alive).toBe(true);
  }, 120_000);
});
