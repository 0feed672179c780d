// Open mode (--auth open, revision 1.0's behaviour for demos): body users are believed, logins need
// no password and still get tokens (without a credential, accepted only by open servers), a token
// when sent is verified all the same, and the server says loudly that it is open.
import { beforeAll, describe, expect, it } from 'vitest';
import { AuthClient } from './helpers/auth.js';
import { fileScratch, startInfrastructure, startServerProcess, type Infrastructure, type ServerProcess } from './helpers/processes.js';

let infra: Infrastructure;
let server: ServerProcess;
let client: AuthClient;
const scratch = fileScratch({ prefix: 'correio-auth-open-', closeFirst: () => client?.close() });

beforeAll(async () => {
  infra = await startInfrastructure();
  server = await startServerProcess(infra, 'o1', scratch.dir, ['--no-ref', '--auth', 'open']);
  client = new AuthClient(infra.broker, 'auth-open-test');
}, 60_000);

describe('open mode', () => {
  it('believes body users, issues tokens without a password, and warns loudly', async () => {
    expect(server.child.stderr + server.child.stdout).toContain('auth open: anyone who can reach the broker can act as any user');
    const login = await client.call('chat', 'chat.login.request', { user: 'ana' });
    expect(login.token).toBeDefined();
    await client.call('chat', 'chat.channel.create.request', { user: 'ana', channel: 'general' });
    await client.call('chat', 'chat.publish.request', { user: 'ana', channel: 'general', text: 'no token' });
    await client.call('chat', 'chat.publish.request', { channel: 'general', text: 'with the token' }, login.token);
    expect(await client.failure('chat', 'chat.publish.request', { channel: 'general', text: 'nobody' })).toMatchObject({ code: 'BAD_REQUEST', data: { reason: 'no_user' } });
    expect(await client.failure('chat', 'chat.publish.request', { user: 'rui', channel: 'general', text: 'as rui' }, login.token)).toMatchObject({ code: 'FORBIDDEN' });
    const [header, payload, signature] = login.token!.split('.') as [string, string, string];
    const tampered = `${header}.${payload}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    expect(await client.failure('chat', 'chat.publish.request', { channel: 'general', text: 'bad' }, tampered)).toMatchObject({ code: 'UNAUTHENTICATED', data: { reason: 'bad_signature' } });
    const history = await client.call('chat', 'chat.history.request', { channel: 'general' });
    expect(history.messages.map((m) => m.text)).toEqual(['no token', 'with the token']);
    // Registered users may log in with their password here too, and get a token with a credential.
    const registered = await client.signUp('chat', 'bia', 'a good password');
    await client.call('chat', 'chat.publish.request', { channel: 'general', text: 'from bia' }, registered.token);
    expect(await client.failure('chat', 'chat.login.request', { user: 'bia', password: 'a wrong password' })).toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
