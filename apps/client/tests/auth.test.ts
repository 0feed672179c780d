// The client's side of identity (protocol 1.1) against a real broker and the fake chat server in
// password mode: registration, login with a password, the token on every request, refresh before
// expiry, a new login once the refresh token is spent, a retry after a token the server found
// expired, and logout. The real server's side is in real-server.test.ts.
import { describe, expect, it } from 'vitest';
import { ConflictError, UnauthenticatedError } from '@correio/codec';
import { ChatClient } from '@correio/client';
import { waitFor } from '@correio/testing';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { startClusterFor, type ClusterOptions } from './helpers/cluster.js';

const cleanups = cleanupAfterEach();
const PASSWORD = 'correct horse battery';

async function passwordCluster(auth: ClusterOptions['auth'] = {}) {
  return startClusterFor(cleanups, { auth: { auth: 'password', ...auth } });
}

function client(brokerEndpoint: string): ChatClient {
  const created = new ChatClient({ broker: brokerEndpoint, timeout: 2_000, retries: 2 });
  cleanups.push(() => created.close());
  return created;
}

describe('ChatClient with password auth', () => {
  it('registers, logs in with the password and sends the access token with every request acting as the user', async () => {
    const at = await passwordCluster();
    const ana = client(at.brokerEndpoint);
    expect(await ana.register('ana', PASSWORD)).toMatchObject({ user: 'ana' });
    const login = await ana.login('ana', { password: PASSWORD });
    expect(login.token).toBeDefined();
    expect(ana.token).toBe(login.token);
    await ana.createChannel('general');
    await ana.publish('general', 'hello');
    await ana.allUsers();
    // register and login carry no token; the three requests after them carry the login's.
    expect(at.server.auths).toEqual([undefined, undefined, login.token, login.token, login.token]);
  });

  it('refuses a wrong password, a missing one and a taken name with typed errors', async () => {
    const at = await passwordCluster();
    const ana = client(at.brokerEndpoint);
    await ana.register('ana', PASSWORD);
    await expect(ana.register('ana', 'another password')).rejects.toBeInstanceOf(ConflictError);
    await expect(ana.login('ana', { password: 'not the password' })).rejects.toBeInstanceOf(UnauthenticatedError);
    await expect(ana.login('ana')).rejects.toBeInstanceOf(UnauthenticatedError);
    await expect(ana.register('bob', 'short')).rejects.toThrow(/at least 8 characters/);
    expect(ana.token).toBeUndefined();
  });

  it('refreshes the access token before it expires, once however many requests wait', async () => {
    const at = await passwordCluster({ accessTtlMs: 1_200 });
    const ana = client(at.brokerEndpoint);
    await ana.register('ana', PASSWORD);
    const first = await ana.login('ana', { password: PASSWORD });
    await ana.createChannel('general');
    // Due before the token expires (by a quarter of the lifetime left when the reply came).
    const refreshAt = ana.tokenRefreshAt!;
    expect(refreshAt).toBeLessThan(first.expires_at!);
    await waitFor(() => Date.now() >= refreshAt, 'the refresh to fall due', 5_000);
    await Promise.all(Array.from({ length: 5 }, (_, i) => ana.publish('general', `m${i}`)));
    expect(at.server.served.get('chat.refresh.request')).toBe(1);
    expect(ana.token).not.toBe(first.token);
    expect(at.server.auths.slice(-5)).toEqual(Array(5).fill(ana.token));
    expect(at.server.served.get('chat.login.request')).toBe(1);
  });

  it('logs in again with the password once the refresh token has expired too', async () => {
    const at = await passwordCluster({ accessTtlMs: 600, refreshTtlMs: 600 });
    const ana = client(at.brokerEndpoint);
    await ana.register('ana', PASSWORD);
    const first = await ana.login('ana', { password: PASSWORD });
    await waitFor(() => Date.now() > first.refresh_expires_at!, 'both tokens to expire', 5_000);
    expect(await ana.createChannel('general')).toMatchObject({ created: true, created_by: 'ana' });
    expect(at.server.served.get('chat.login.request')).toBe(2);
    expect(at.server.served.get('chat.refresh.request') ?? 0).toBe(0);
  });

  it('sends a request again after a refresh when the server found its token expired (the server clock runs ahead)', async () => {
    const ahead = 5_000;
    const at = await passwordCluster({ accessTtlMs: 1_000, clockAheadMs: ahead });
    const ana = client(at.brokerEndpoint);
    await ana.register('ana', PASSWORD);
    const first = await ana.login('ana', { password: PASSWORD });
    // By the client's clock the token has 6 s left (refresh due after 4.5 s); by the server's it expires after 1 s.
    await waitFor(() => Date.now() > first.expires_at! - ahead, 'the token to expire by the server clock', 5_000);
    expect(await ana.createChannel('general')).toMatchObject({ created: true });
    expect(at.server.served.get('chat.refresh.request')).toBe(1);
    expect(at.server.auths.slice(-3)).toEqual([first.token, undefined, ana.token]); // refused, the refresh, sent again
    expect(ana.token).not.toBe(first.token);
  });

  it('logs out: the tokens stop working and are not renewed behind the user’s back', async () => {
    const at = await passwordCluster();
    const ana = client(at.brokerEndpoint);
    await ana.register('ana', PASSWORD);
    const login = await ana.login('ana', { password: PASSWORD });
    expect(await ana.logout()).toMatchObject({ user: 'ana' });
    expect(ana.token).toBeUndefined();
    // Another client holding the old token (a thief, say) is refused, and nothing logs it back in.
    await expect(ana.createChannel('general')).rejects.toBeInstanceOf(UnauthenticatedError);
    expect(at.server.auths.at(-1)).toBeUndefined();
    expect(at.server.served.get('chat.login.request')).toBe(1);
    expect(login.token).toBeDefined();
  });

  it('still logs in without a password on a server in open mode, and sends the token it got', async () => {
    const at = await startClusterFor(cleanups);
    const ana = client(at.brokerEndpoint);
    const login = await ana.login('ana');
    await ana.createChannel('general');
    expect(at.server.auths).toEqual([undefined, login.token]);
  });
});
