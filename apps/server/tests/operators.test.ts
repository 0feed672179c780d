// Operators and chat.whoami (protocol revision 1.3) over real sockets: two chat servers behind one
// broker. p1 runs password mode with --operators ana; o1 runs open mode with --operators rui. The
// operator role is in the access tokens a server issues (login, refresh) to the users of its own
// list who proved their password, and chat.whoami reports the verified user and roles of a token.
import { beforeAll, describe, expect, it } from 'vitest';
import { readMetric } from '@correio/testing';
import { AuthClient } from './helpers/auth.js';
import { fileScratch, startInfrastructure, startServerProcess, type ServerProcess } from './helpers/processes.js';

const PASSWORD = 'correct horse battery staple';
let password: ServerProcess;
let client: AuthClient;
const scratch = fileScratch({ prefix: 'correio-operators-', closeFirst: () => client?.close() });

beforeAll(async () => {
  const infra = await startInfrastructure();
  [password] = await Promise.all([
    startServerProcess(infra, 'p1', `${scratch.dir}/p1`, ['--no-ref', '--auth', 'password', '--operators', 'ana,zeca']),
    startServerProcess(infra, 'o1', `${scratch.dir}/o1`, ['--no-ref', '--auth', 'open'], { CORREIO_SERVER_OPERATORS: 'rui' }),
  ]);
  client = new AuthClient(infra.broker, 'operators-test');
}, 90_000);

describe('chat.whoami and the operator role', () => {
  it('names the operator role for a listed user, none for another, and keeps it across a refresh', async () => {
    const ana = await client.signUp('srv.p1', 'ana', PASSWORD);
    const whoami = await client.call('srv.p1', 'chat.whoami.request', {}, ana.token);
    expect(whoami).toEqual({ user: 'ana', roles: ['operator'], expires_at: ana.expires_at });
    const bia = await client.signUp('srv.p1', 'bia', PASSWORD);
    expect(await client.call('srv.p1', 'chat.whoami.request', {}, bia.token)).toEqual({ user: 'bia', roles: [], expires_at: bia.expires_at });
    const refreshed = await client.call('srv.p1', 'chat.refresh.request', { refresh_token: ana.refresh_token! });
    expect(await client.call('srv.p1', 'chat.whoami.request', {}, refreshed.token)).toEqual({ user: 'ana', roles: ['operator'], expires_at: refreshed.expires_at });
  });

  it('refuses a request without a token and a logged-out token UNAUTHENTICATED, and counts both', async () => {
    const failures = (reason: string) => readMetric(password.http, 'correio_auth_failures_total', { reason });
    const [noTokenBefore, loggedOutBefore] = [await failures('no_token'), await failures('logged_out')];
    expect(await client.failure('srv.p1', 'chat.whoami.request', {})).toMatchObject({ code: 'UNAUTHENTICATED', data: { reason: 'no_token' } });
    const zeca = await client.signUp('srv.p1', 'zeca', PASSWORD);
    expect((await client.call('srv.p1', 'chat.whoami.request', {}, zeca.token)).roles).toEqual(['operator']);
    await client.call('srv.p1', 'chat.logout.request', {}, zeca.token);
    expect(await client.failure('srv.p1', 'chat.whoami.request', {}, zeca.token)).toMatchObject({ code: 'UNAUTHENTICATED', data: { reason: 'logged_out' } });
    expect(await client.failure('srv.p1', 'chat.whoami.request', {}, 'a.b.c')).toMatchObject({ code: 'UNAUTHENTICATED', data: { reason: 'malformed' } });
    expect(await failures('no_token')).toBe(noTokenBefore + 1);
    expect(await failures('logged_out')).toBe(loggedOutBefore + 1);
  });

  it('in open mode needs a token too; only a password login of a user of this server\'s list gets the role', async () => {
    expect(await client.failure('srv.o1', 'chat.whoami.request', {})).toMatchObject({ code: 'UNAUTHENTICATED', data: { reason: 'no_token' } });
    // rui is on o1's list, but a login without a password proves nothing.
    const passwordless = await client.call('srv.o1', 'chat.login.request', { user: 'rui' });
    expect(await client.call('srv.o1', 'chat.whoami.request', {}, passwordless.token)).toMatchObject({ user: 'rui', roles: [] });
    await client.call('srv.o1', 'chat.register.request', { user: 'rui', password: PASSWORD });
    const rui = await client.call('srv.o1', 'chat.login.request', { user: 'rui', password: PASSWORD });
    expect(await client.call('srv.o1', 'chat.whoami.request', {}, rui.token)).toMatchObject({ user: 'rui', roles: ['operator'] });
    // ana is an operator of p1, not of o1: o1 issues her no role.
    const ana = await client.signUp('srv.o1', 'ana', PASSWORD);
    expect(await client.call('srv.o1', 'chat.whoami.request', {}, ana.token)).toMatchObject({ user: 'ana', roles: [] });
  });
});
