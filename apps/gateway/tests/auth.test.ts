// Identity through the gateway (protocol 1.1) against a server in password mode: register, log in,
// act with the bearer token (the servers take the user from it), refresh, log out; every token
// attack answered 401, a body user that is not the token's 403; streams authenticate with a token.
import { beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_START_MS, http, startCluster, startGateway, type GatewayProcess, type Json } from './helpers/cluster.js';
import { StreamClient } from './helpers/streamClient.js';

let gateway: GatewayProcess;
let ana: Json;

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

beforeAll(async () => {
  const cluster = await startCluster(1, 'password');
  gateway = await startGateway(cluster);
  expect((await http(`${gateway.url}/v1/register`, { body: { user: 'ana', password: 'correct horse battery' } })).status).toBe(201);
  expect((await http(`${gateway.url}/v1/register`, { body: { user: 'bo', password: 'another good one' } })).status).toBe(201);
  const login = await http(`${gateway.url}/v1/login`, { body: { user: 'ana', password: 'correct horse battery' } });
  expect(login.status).toBe(200);
  ana = login.body;
}, CLUSTER_START_MS);

describe('identity through the gateway', () => {
  it('acts as the token\'s user, and refuses requests without one', async () => {
    expect(ana).toMatchObject({ user: 'ana', token: expect.any(String), refresh_token: expect.any(String) });
    const created = await http(`${gateway.url}/v1/channels`, { body: { channel: 'secure' }, headers: bearer(ana.token) });
    expect(created.status).toBe(200);
    const published = await http(`${gateway.url}/v1/channels/secure/messages`, { body: { text: 'signed' }, headers: bearer(ana.token) });
    expect(published.status).toBe(200);
    const history = await http(`${gateway.url}/v1/channels/secure/messages`, { headers: bearer(ana.token) });
    expect(history.body.messages.map((message: Json) => [message.user, message.text])).toEqual([['ana', 'signed']]);

    const anonymous = await http(`${gateway.url}/v1/channels/secure/messages`, { body: { user: 'ana', text: 'forged' } });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.code).toBe('UNAUTHENTICATED');
    const impersonating = await http(`${gateway.url}/v1/channels/secure/messages`, { body: { user: 'bo', text: 'as bo' }, headers: bearer(ana.token) });
    expect(impersonating.status).toBe(403);
    expect(impersonating.body.code).toBe('FORBIDDEN');
    const wrongPassword = await http(`${gateway.url}/v1/login`, { body: { user: 'ana', password: 'not the password' } });
    expect(wrongPassword.status).toBe(401);
    const taken = await http(`${gateway.url}/v1/register`, { body: { user: 'ana', password: 'whatever it is' } });
    expect(taken.status).toBe(409);
  });

  it('answers every token attack with 401', async () => {
    const [header, payload, signature] = ana.token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const forgedPayload = Buffer.from(JSON.stringify({ ...claims, sub: 'bo' })).toString('base64url');
    const noneHeader = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const attacks = {
      garbage: 'not-a-token',
      tampered: `${header}.${forgedPayload}.${signature}`,
      'alg none': `${noneHeader}.${forgedPayload}.`,
      'refresh token as access token': ana.refresh_token,
      'signature cut': `${header}.${payload}.${signature.slice(0, 10)}`,
    };
    for (const [name, token] of Object.entries(attacks)) {
      const reply = await http(`${gateway.url}/v1/users`, { headers: bearer(token) });
      expect(reply.status, name).toBe(401);
      expect(reply.body.code, name).toBe('UNAUTHENTICATED');
    }
  });

  it('refreshes, and a logout revokes the older tokens', async () => {
    const login = await http(`${gateway.url}/v1/login`, { body: { user: 'bo', password: 'another good one' } });
    const refreshed = await http(`${gateway.url}/v1/refresh`, { body: { refresh_token: login.body.refresh_token } });
    expect(refreshed.status).toBe(200);
    expect((await http(`${gateway.url}/v1/users`, { headers: bearer(refreshed.body.token) })).status).toBe(200);
    const logout = await http(`${gateway.url}/v1/logout`, { body: {}, headers: bearer(refreshed.body.token) });
    expect(logout.status).toBe(200);
    expect((await http(`${gateway.url}/v1/users`, { headers: bearer(login.body.token) })).status).toBe(401);
  });

  it('authenticates streams with a token: its user gets direct messages; a bad token is closed with 4401', async () => {
    const bo = (await http(`${gateway.url}/v1/login`, { body: { user: 'bo', password: 'another good one' } })).body;
    const stream = await StreamClient.open(gateway.stream, { token: bo.token });
    expect(stream.messages[0]).toMatchObject({ type: 'ready', user: 'bo' });
    expect(await stream.subscribe('secure')).toMatchObject({ type: 'subscribed' });
    const sent = await http(`${gateway.url}/v1/users/bo/messages`, { body: { text: 'for bo only' }, headers: bearer(ana.token) });
    expect(sent.status).toBe(200);
    expect((await stream.next((event) => event.type === 'direct')).message).toMatchObject({ from: 'ana', to: 'bo', text: 'for bo only' });
    await stream.close();

    const refused = await StreamClient.open(gateway.stream, { token: `${ana.token.split('.')[0]}.${Buffer.from('{"sub":"bo"}').toString('base64url')}.x` }).catch((error: Error) => error);
    expect(refused).toBeInstanceOf(Error);
    const named = await StreamClient.open(gateway.stream, { user: 'bo' }).catch((error: Error) => error);
    expect(named).toBeInstanceOf(Error);
  });
});
