// Identity over real sockets (protocol revision 1.1): two chat servers in password mode sharing one
// key-set file, replicating through a broker and a proxy (child processes over TCP). Every
// user-acting request takes its user from a verified token; every token attack gets a typed
// UNAUTHENTICATED; logouts and password changes revoke tokens on every server once replicated.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { newKeyRecord, rotateKeySet, tokenAttacks, writeKeySet } from '@correio/identity';
import { readMetric } from '@correio/testing';
import { AuthClient } from './helpers/auth.js';
import { eventually, rawEnvelope } from './helpers/chat.js';
import { fileScratch, startInfrastructure, startServerProcesses, type Infrastructure, type ServerProcess } from './helpers/processes.js';

const IDS = ['s1', 's2'] as const;
const PASSWORD = 'correct horse battery staple';
let infra: Infrastructure;
let servers: ServerProcess[];
let client: AuthClient;
let keysFile: string;
const scratch = fileScratch({ prefix: 'correio-auth-', closeFirst: () => client?.close() });

beforeAll(async () => {
  keysFile = join(scratch.dir, 'auth-keys.json');
  // An active key and a retired one, so the retired-key attack has a key to sign with.
  const retired = await newKeyRecord(Date.now() - 60_000);
  writeKeySet(keysFile, { keys: [{ ...retired, retire_at: Date.now() - 1_000 }, await newKeyRecord()] });
  infra = await startInfrastructure();
  servers = await startServerProcesses(infra, IDS, scratch.dir, () => ['--peers', IDS.join(','), '--anti-entropy', '300', '--no-ref', '--auth', 'password', '--auth-keys', keysFile]);
  client = new AuthClient(infra.broker, 'auth-test');
}, 90_000);

describe('password mode', () => {
  it('register, log in, publish with the token, read the history', async () => {
    const login = await client.signUp('srv.s1', 'ana', PASSWORD);
    expect(login).toMatchObject({ user: 'ana', created: true });
    expect(login.expires_at! - Date.now()).toBeGreaterThan(14 * 60_000);
    expect(login.refresh_expires_at! - Date.now()).toBeGreaterThan(6 * 86_400_000);
    await client.call('srv.s1', 'chat.channel.create.request', { channel: 'general' }, login.token);
    const published = await client.call('srv.s1', 'chat.publish.request', { channel: 'general', text: 'bom dia' }, login.token);
    expect(published.op.origin).toBe('s1');
    const history = await client.call('srv.s1', 'chat.history.request', { channel: 'general' }, login.token);
    expect(history.messages.map((m) => [m.user, m.text])).toEqual([['ana', 'bom dia']]);
    // The body may name the user too, when it is the token's.
    await client.call('srv.s1', 'chat.publish.request', { user: 'ana', channel: 'general', text: 'again' }, login.token);
    // A refresh gives new tokens that work.
    const refreshed = await client.call('srv.s1', 'chat.refresh.request', { refresh_token: login.refresh_token! });
    await client.call('srv.s1', 'chat.publish.request', { channel: 'general', text: 'refreshed' }, refreshed.token);
    // A second registration of the name is CONFLICT.
    expect(await client.failure('srv.s1', 'chat.register.request', { user: 'ana', password: 'another password' })).toMatchObject({ code: 'CONFLICT' });
  });

  it('refuses every token attack over the broker with a typed UNAUTHENTICATED naming the check, and counts it', async () => {
    const login = await client.signUp('srv.s1', 'eve', PASSWORD);
    const cred = JSON.parse(Buffer.from(login.token!.split('.')[1]!, 'base64url').toString()).cred as string;
    const attacks = await tokenAttacks(keysFile, { user: 'eve', cred });
    expect(attacks.map((attack) => attack.reason)).toContain('retired_key');
    expect(attacks).toHaveLength(11);
    for (const attack of attacks) {
      const error = await client.failure('chat', 'chat.publish.request', { channel: 'general', text: 'forged' }, attack.token);
      expect(error, attack.name).toMatchObject({ code: 'UNAUTHENTICATED', retryable: false, data: { reason: attack.reason } });
    }
    // The refresh endpoint refuses an access token, and garbage.
    expect(await client.failure('srv.s1', 'chat.refresh.request', { refresh_token: login.token! })).toMatchObject({ code: 'UNAUTHENTICATED', data: { reason: 'wrong_use' } });
    expect(await client.failure('srv.s1', 'chat.refresh.request', { refresh_token: 'a.b.' })).toMatchObject({ code: 'UNAUTHENTICATED', data: { reason: 'malformed' } });
    const counted = (await Promise.all(servers.map((server) => readMetric(server.http, 'correio_auth_failures_total', { reason: 'expired' })))).reduce((a, b) => a + b, 0);
    expect(counted).toBeGreaterThanOrEqual(1);
  });

  it('a body user other than the token user is FORBIDDEN; no token is UNAUTHENTICATED, for writes and reads', async () => {
    const login = await client.signUp('srv.s2', 'rui', PASSWORD);
    expect(await client.failure('srv.s2', 'chat.publish.request', { user: 'ana', channel: 'general', text: 'as ana' }, login.token)).toMatchObject({ code: 'FORBIDDEN' });
    expect(await client.failure('srv.s2', 'chat.conversation.request', { user: 'ana', peer: 'rui' }, login.token)).toMatchObject({ code: 'FORBIDDEN' });
    expect(await client.failure('srv.s2', 'chat.inbox.request', { user: 'ana' }, login.token)).toMatchObject({ code: 'FORBIDDEN' });
    expect(await client.call('srv.s2', 'chat.inbox.request', {}, login.token)).toEqual({ messages: [] });
    for (const [type, body] of [
      ['chat.publish.request', { user: 'rui', channel: 'general', text: 'no token' }],
      ['chat.channel.create.request', { user: 'rui', channel: 'other' }],
      ['chat.direct.request', { user: 'rui', to: 'ana', text: 'no token' }],
      ['chat.history.request', { channel: 'general' }],
      ['chat.users.request', {}],
      ['chat.channels.request', {}],
      ['chat.conversation.request', { user: 'rui', peer: 'ana' }],
      ['chat.inbox.request', { user: 'rui' }],
      ['chat.logout.request', {}],
      ['chat.password.request', { password: PASSWORD, new_password: 'whatever123' }],
    ] as const) {
      expect(await client.failure('srv.s2', type, body), type).toMatchObject({ code: 'UNAUTHENTICATED', data: { reason: 'no_token' } });
    }
    expect(await client.failure('srv.s2', 'chat.login.request', { user: 'rui' })).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('a registration on one server lets the user log in on the other once replicated', async () => {
    await client.call('srv.s1', 'chat.register.request', { user: 'bia', password: PASSWORD });
    let login: Awaited<ReturnType<AuthClient['call']>> | undefined;
    await eventually(async () => {
      login = await client.call('srv.s2', 'chat.login.request', { user: 'bia', password: PASSWORD }).catch(() => undefined);
      return login !== undefined;
    }, 15_000, 'bia to log in on s2');
    const token = (login as { token: string }).token;
    await client.call('srv.s2', 'chat.users.request', {}, token);
    // Unknown users and wrong passwords get the same answer.
    const unknown = await client.failure('srv.s2', 'chat.login.request', { user: 'nobody', password: PASSWORD });
    const wrong = await client.failure('srv.s2', 'chat.login.request', { user: 'bia', password: 'wrong password' });
    expect(unknown).toMatchObject({ code: 'UNAUTHENTICATED', data: { reason: 'bad_password' } });
    expect(wrong.message).toBe(unknown.message);
  });

  it('a logout on one server revokes the user\'s tokens on the other once replicated', async () => {
    const login = await client.signUp('srv.s1', 'caio', PASSWORD);
    await eventually(async () => (await client.call('srv.s2', 'chat.users.request', {}, login.token).catch(() => undefined)) !== undefined, 15_000, 'caio known on s2');
    const loggedOut = await client.call('srv.s1', 'chat.logout.request', {}, login.token);
    expect(loggedOut.user).toBe('caio');
    expect(await client.failure('srv.s1', 'chat.users.request', {}, login.token)).toMatchObject({ code: 'UNAUTHENTICATED', data: { reason: 'logged_out' } });
    await eventually(async () => (await client.refusal('srv.s2', 'chat.users.request', {}, login.token))?.code === 'UNAUTHENTICATED', 15_000, 'the logout to reach s2');
    expect(await client.failure('srv.s2', 'chat.refresh.request', { refresh_token: login.refresh_token! })).toMatchObject({ code: 'UNAUTHENTICATED', data: { reason: 'logged_out' } });
    // Logging in again works at once, on the server that took the logout.
    const again = await client.call('srv.s1', 'chat.login.request', { user: 'caio', password: PASSWORD });
    await client.call('srv.s1', 'chat.users.request', {}, again.token);
  });

  it('a password change revokes the older tokens everywhere; the new password logs in, the old does not', async () => {
    const login = await client.signUp('srv.s2', 'duda', PASSWORD);
    expect(await client.failure('srv.s2', 'chat.password.request', { password: 'not the password', new_password: 'new password 123' }, login.token)).toMatchObject({ code: 'UNAUTHENTICATED' });
    await client.call('srv.s2', 'chat.password.request', { password: PASSWORD, new_password: 'new password 123' }, login.token);
    expect(await client.failure('srv.s2', 'chat.users.request', {}, login.token)).toMatchObject({ code: 'UNAUTHENTICATED', data: { reason: 'credential_changed' } });
    expect(await client.failure('srv.s2', 'chat.login.request', { user: 'duda', password: PASSWORD })).toMatchObject({ code: 'UNAUTHENTICATED' });
    const fresh = await client.call('srv.s2', 'chat.login.request', { user: 'duda', password: 'new password 123' });
    await eventually(async () => (await client.call('srv.s1', 'chat.users.request', {}, fresh.token).catch(() => undefined)) !== undefined, 15_000, 'the change to reach s1');
    expect(await client.failure('srv.s1', 'chat.refresh.request', { refresh_token: login.refresh_token! })).toMatchObject({ code: 'UNAUTHENTICATED', data: { reason: 'credential_changed' } });
  });

  it('limits wrong passwords per user: after 10 failures in a minute even the right one waits, retryable with retry_after_ms', async () => {
    await client.call('srv.s1', 'chat.register.request', { user: 'fabi', password: PASSWORD });
    const badBefore = await readMetric(servers[0]!.http, 'correio_auth_failures_total', { reason: 'bad_password' });
    // Guess until refused for the limit. (A guess the client resends after a time-out counts twice,
    // so the limit may come before the tenth guess; the server's count says it came after ten failures.)
    let guesses = 0;
    for (let refused = false; !refused; guesses++) {
      expect(guesses, 'guesses before the limit').toBeLessThanOrEqual(10);
      const error = await client.failure('srv.s1', 'chat.login.request', { user: 'fabi', password: `guess number ${guesses}` });
      refused = (error.data as { reason?: string } | undefined)?.reason === 'rate_limited';
      if (!refused) expect(error).toMatchObject({ code: 'UNAUTHENTICATED', data: { reason: 'bad_password' } });
    }
    expect(await readMetric(servers[0]!.http, 'correio_auth_failures_total', { reason: 'bad_password' })).toBeGreaterThanOrEqual(badBefore + 10);
    const limited = await client.failure('srv.s1', 'chat.login.request', { user: 'fabi', password: PASSWORD });
    expect(limited).toMatchObject({ code: 'UNAUTHENTICATED', retryable: true, data: { reason: 'rate_limited' } });
    expect((limited.data as { retry_after_ms: number }).retry_after_ms).toBeGreaterThan(0);
    expect(await readMetric(servers[0]!.http, 'correio_auth_failures_total', { reason: 'rate_limited' })).toBeGreaterThanOrEqual(1);
  });

  it('survives hostile passwords and tokens: typed errors, and it keeps serving', async () => {
    const huge = 'x'.repeat(900_000);
    for (const [body, auth] of [
      [{ user: 'hulk', password: huge }, undefined],
      [{ user: 'hulk', password: 'p'.repeat(1025) }, undefined],
      [{ user: 'hulk', password: 'short' }, undefined],
      [{ user: 'hulk', password: 12345678 }, undefined],
      [{ user: 'hulk', password: PASSWORD }, 'x'.repeat(5_000)],
      [{ user: 'hulk', password: PASSWORD }, 'not a token'],
      [{ user: 'hulk', password: PASSWORD }, 42],
    ] as const) {
      const reply = await client.raw('srv.s1', rawEnvelope('chat.register.request', body, auth === undefined ? {} : { auth }));
      expect(reply).toMatchObject({ type: 'error' });
      expect(['VALIDATION', 'TOO_LARGE']).toContain(((reply as { body: { code: string } }).body).code);
    }
    for (const token of ['a.b.', 'eyJhbGciOiJFZERTQSJ9.e30.', `${Buffer.from('{"alg":"EdDSA","kid":"x"}').toString('base64url')}.${'A'.repeat(2000)}.${'B'.repeat(86)}`, 'AAAA.BBBB.CCCC']) {
      expect(await client.failure('srv.s1', 'chat.publish.request', { channel: 'general', text: 'x' }, token)).toMatchObject({ code: 'UNAUTHENTICATED' });
    }
    const login = await client.call('srv.s1', 'chat.login.request', { user: 'ana', password: PASSWORD });
    await client.call('srv.s1', 'chat.publish.request', { channel: 'general', text: 'still here' }, login.token);
  });

  // Last: it rewrites the shared key set, as `correio auth rotate-key` does (that command calls rotateKeySet).
  it('signs with the new key once the key set is rotated, on every server, and still accepts the old key\'s tokens', async () => {
    const kidOf = (token: string | undefined) => (JSON.parse(Buffer.from(token!.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
    const before = await client.call('srv.s1', 'chat.login.request', { user: 'ana', password: PASSWORD });
    const newKid = await rotateKeySet(keysFile, 3_600_000);
    expect(kidOf(before.token)).not.toBe(newKid);
    for (const id of IDS) {
      // Each server notices the changed file by itself (no SIGHUP here).
      await eventually(async () => kidOf((await client.call(`srv.${id}`, 'chat.login.request', { user: 'ana', password: PASSWORD })).token) === newKid, 30_000, `srv.${id} signing with ${newKid}`);
      await client.call(`srv.${id}`, 'chat.publish.request', { channel: 'general', text: `old key on ${id}` }, before.token);
    }
  });
});
