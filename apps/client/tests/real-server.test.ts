// End to end with the real chat server (apps/server) as a process, behind a real broker and proxy,
// in password mode (accounts, tokens) unless a test says open.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnauthenticatedError } from '@correio/codec';
import { ChatClient, ChatSession, runBot, type PasswordChange, type ReceivedPublication, type StampedSessionEvent } from '@correio/client';
import { spawnProgram, waitFor, workspaceRoot } from '@correio/testing';
import { RequestClient } from '@correio/transport';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { startRealInfrastructure } from './helpers/cluster.js';

const serverMain = join(workspaceRoot, 'apps', 'server', 'src', 'main.ts');

const cleanups = cleanupAfterEach();

/** A broker, a proxy and one real server process with a fresh data directory; `extra` are more server flags. */
async function realCluster(extra: readonly string[] = ['--auth', 'password']): Promise<{ broker: string; proxySub: string }> {
  const { broker, proxy, data } = await startRealInfrastructure(cleanups, { heartbeatMs: 500, scratchPrefix: 'correio-client-e2e-' });
  const args = ['--id', 'srv-e2e', '--data-dir', data.dir, '--broker', broker.endpoints[0]!, '--proxy-pub', proxy.frontend, '--proxy-sub', proxy.backend, '--heartbeat', '500', ...extra];
  const server = spawnProgram('the chat server', serverMain, args);
  cleanups.push(() => server.stop(8_000));
  await server.waitForLine(/^server ready /, 30_000);
  await waitFor(() => broker.snapshot().services.some((service) => service.name === 'chat' && service.workers > 0), 'the server to register with the broker', 15_000);
  return { broker: broker.endpoints[0]!, proxySub: proxy.backend };
}

/** Registers `user` and logs in with a password. */
async function signIn(client: ChatClient, user: string): Promise<void> {
  await client.register(user, `${user} password`);
  await client.login(user, { password: `${user} password` });
}

function client(at: { broker: string; proxySub: string }): ChatClient {
  const created = new ChatClient({ broker: at.broker, proxy: at.proxySub, timeout: 5_000, retries: 2 });
  cleanups.push(() => created.close());
  return created;
}

describe('with the real chat server', () => {
  it('logs in, creates a channel, publishes, delivers live and reads history, with Lamport clocks in order', async () => {
    const at = await realCluster();
    const ana = client(at);
    const bob = client(at);
    await ana.register('ana', 'ana password');
    expect(await ana.login('ana', { password: 'ana password' })).toMatchObject({ user: 'ana', created: true, token: expect.any(String) });
    await signIn(bob, 'bob');
    expect(await ana.createChannel('general')).toMatchObject({ channel: 'general', created: true, created_by: 'ana' });
    bob.subscribeChannel('general');
    const received: ReceivedPublication[] = [];
    bob.events.on('publication', (event) => received.push(event));
    await bob.waitForProxy(5_000);
    // A probe channel subscribed after general on the same socket: once its publications arrive,
    // the subscription to general has reached the server's publisher too.
    await ana.createChannel('probe');
    bob.subscribeChannel('probe');
    await waitFor(
      async () => {
        if (received.some((event) => event.publication.channel === 'probe')) return true;
        await ana.publish('probe', 'are you there?');
        return false;
      },
      'the subscriptions at the server',
      10_000,
      100,
    );


    const reply = await ana.publish('general', 'hello from the real server');
    const fromGeneral = () => received.filter((event) => event.publication.channel === 'general');
    await waitFor(() => fromGeneral().length === 1, 'the live publication', 10_000);
    expect(fromGeneral()[0]!.publication).toMatchObject({ channel: 'general', user: 'ana', text: 'hello from the real server', op: reply.op, lc: reply.lc });
    expect(bob.lc).toBeGreaterThan(reply.lc);

    const history = await bob.history('general');
    expect(history.messages.map((m) => m.text)).toEqual(['hello from the real server']);
    expect((await bob.allChannels()).channels.map((c) => c.channel)).toContain('general');
    expect((await bob.allUsers()).users.map((u) => u.user)).toEqual(expect.arrayContaining(['ana', 'bob']));
    await ana.direct('bob', 'psst');
    expect((await bob.conversation('ana')).messages.map((m) => m.text)).toEqual(['psst']);
  });

  it('runs a session: join shows the history, a plain line publishes', async () => {
    const at = await realCluster();
    const events: StampedSessionEvent[] = [];
    const ana = client(at);
    const session = new ChatSession(ana, { emit: (event) => events.push(event) });
    await session.start('ana', { register: true, password: 'ana password' });
    await session.submit('/create general');
    await session.submit('/join general');
    await session.submit('first words');
    await session.submit('/history');
    const history = events.find((e) => e.event === 'history');
    expect(history).toMatchObject({ event: 'history', channel: 'general', messages: [expect.objectContaining({ text: 'first words', user: 'ana' })] });
    expect(events.filter((e) => e.event === 'error')).toEqual([]);
    expect(events[0]).toMatchObject({ event: 'ready', user: 'ana', registered: true });
    await session.logout();
    session.end();
    await expect(ana.createChannel('after-logout')).rejects.toBeInstanceOf(UnauthenticatedError);
  });

  it('/password changes the password and replaces the session\'s tokens with a new login\'s; the old token no longer verifies', async () => {
    const at = await realCluster();
    const events: StampedSessionEvent[] = [];
    const answers: PasswordChange[] = [
      { current: 'not the password', next: 'a new password' },
      { problem: 'the new passwords differ: nothing changed' },
      { current: 'ana password', next: 'a new password' },
    ];
    const ana = client(at);
    const session = new ChatSession(ana, { emit: (event) => events.push(event), askPasswords: async () => answers.shift()! });
    await session.start('ana', { register: true, password: 'ana password' });
    const before = ana.token!;
    const replies = () => events.filter((e) => e.event === 'password' || (e.event === 'error' && e.command === 'password'));
    await session.submit('/password');
    await session.submit('/password');
    expect(replies().map((e) => e.event === 'error' && [e.command, e.code, e.message])).toEqual([
      ['password', 'UNAUTHENTICATED', 'the current password is wrong: nothing changed'],
      ['password', 'USAGE', 'the new passwords differ: nothing changed'],
    ]);
    expect(ana.token).toBe(before);

    await session.submit('/password');
    expect(replies()[2]).toMatchObject({ event: 'password', user: 'ana', changed_at: expect.any(Number) });
    expect(ana.token).toBeDefined();
    expect(ana.token).not.toBe(before);
    await session.submit('/create after-change'); // with the new token
    expect(events.at(-1)).toMatchObject({ event: 'channel', channel: 'after-change', created_by: 'ana' });
    // The server no longer takes the old token, nor the old password; the new one logs in.
    const raw = new RequestClient({ endpoint: at.broker, from: 'old-token-probe', timeout: 5_000 });
    cleanups.push(() => raw.close());
    await expect(raw.request('chat', 'chat.channels.request', {}, { auth: before })).rejects.toBeInstanceOf(UnauthenticatedError);
    const other = client(at);
    await expect(other.login('ana', { password: 'ana password' })).rejects.toBeInstanceOf(UnauthenticatedError);
    expect(await other.login('ana', { password: 'a new password' })).toMatchObject({ user: 'ana', token: expect.any(String) });
    expect(events.filter((e) => e.event === 'error')).toHaveLength(2);
    expect(answers).toEqual([]);
  });

  it('refreshes an access token before it expires, and logs in again once the refresh token is spent', async () => {
    const at = await realCluster(['--auth', 'password', '--auth-access-ttl', '1500ms', '--auth-refresh-ttl', '3s']);
    const ana = client(at);
    await signIn(ana, 'ana');
    const first = { token: ana.token!, expiresAt: ana.tokenExpiresAt!, refreshAt: ana.tokenRefreshAt! };
    expect(first.refreshAt).toBeLessThan(first.expiresAt);
    await ana.createChannel('general');
    await waitFor(() => Date.now() >= first.refreshAt, 'the refresh to fall due', 5_000);
    await ana.publish('general', 'refreshed');
    expect(ana.token).not.toBe(first.token);
    const refreshed = ana.token!;
    // Past the refresh token's expiry too (the server allows 30 s of clock tolerance, so its own
    // refusal may not come yet): the client logs in again with the password it was given.
    const spent = Date.now() + 3_100;
    await waitFor(() => Date.now() >= spent, 'the refresh token to expire', 5_000);
    await ana.publish('general', 'logged in again');
    expect(ana.token).not.toBe(refreshed);
    expect((await ana.history('general')).messages.map((m) => m.text)).toEqual(['refreshed', 'logged in again']);
  });

  it('still serves a client that logs in without a password when the server runs --auth open', async () => {
    const at = await realCluster(['--auth', 'open']);
    const ana = client(at);
    expect(await ana.login('ana')).toMatchObject({ user: 'ana' });
    expect(await ana.createChannel('general')).toMatchObject({ created_by: 'ana' });
  });

  it('bot: a bounded run with consistent numbers', async () => {
    const at = await realCluster();
    const report = await runBot({ broker: at.broker, proxy: at.proxySub, users: 4, rate: 40, messages: 40, channels: 2, warmupMs: 300, settleMs: 1_000, timeout: 5_000 });
    expect(report.sent.total).toEqual({ sent: 40, acked: 40, failed: 0 });
    expect(report.received.publication.fromRun).toBeGreaterThanOrEqual(report.received.publication.expected);
    expect(report.received.direct.fromRun).toBe(report.received.direct.expected);
  });
});
