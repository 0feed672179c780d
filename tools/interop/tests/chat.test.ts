// A mixed topology over real sockets: the TypeScript broker, proxy, reference server and three
// replicating chat servers (child processes), and four users in four languages, each talking to
// its own server as a sticky client does: a Python client (peers/python) on srv-1, a Go client
// (peers/go) on srv-2, a Rust client (peers/rust) and a TypeScript client (@correio/transport) on
// srv-3. The servers run in password mode with one shared key set: each user registers and logs in
// with a password, and every request after carries the access token. They find each other, share a
// channel and exchange direct messages; everyone receives everything, and the Lamport clocks of all
// four languages order what they send after what they received.
import { join } from 'node:path';
import type { ChatDirectReply, ChatHistoryReply, ChatLoginReply, ChatPublication, ChatPublishReply } from '@correio/protocol';
import { killAll, scratchDir, waitFor } from '@correio/testing';
import { RequestClient } from '@correio/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DriverParticipant,
  PAGE,
  prepareDrivers,
  requirePeerToolchains,
  startTopology,
  TypeScriptParticipant,
  type Participant,
  type ReceivedEvent,
  type Topology,
} from '../src/index.js';

const STARTUP_MS = 120_000;
/** Replication, subscriptions and deliveries are quick, but the machine is small and shared. */
const SETTLE_MS = 30_000;
const CHANNEL = 'lobby';
const ROUNDS = 3;
/** The user of the warm-up messages that prove every subscription reached every server. */
const WARMUP = 'warmup';
const PASSWORD = 'interop password ✓';

const scratch = scratchDir('correio-interop-chat-');
let topology: Topology;
let probe: RequestClient;
let python: DriverParticipant;
let go: DriverParticipant;
let rust: DriverParticipant;
let typescript: TypeScriptParticipant;
let everyone: Participant[];
/** The warm-up user's access token, for the probe's requests. */
let warmupToken: string;

beforeAll(async () => {
  requirePeerToolchains();
  const [started, drivers] = await Promise.all([startTopology({ dataDir: scratch.dir, servers: 3, auth: 'password' }), prepareDrivers(join(scratch.dir, 'bin'))]);
  topology = started;
  const { broker } = topology;
  const proxy = topology.proxy!.subscribers;
  probe = new RequestClient({ endpoint: broker, from: 'interop-probe', timeout: 5_000, retries: 2 });
  const driven = (language: 'python' | 'go' | 'rust', user: string, server: string) =>
    new DriverParticipant(language, user, drivers[language].chat({ broker, proxy, user, service: `srv.${server}`, retries: 2 })).ready(STARTUP_MS);
  [python, go, rust] = await Promise.all([driven('python', 'ana-py', 'srv-1'), driven('go', 'bruno-go', 'srv-2'), driven('rust', 'rita-rs', 'srv-3')]);
  typescript = new TypeScriptParticipant('carla-ts', { broker, proxy }, 'srv.srv-3');
  everyone = [python, go, rust, typescript];
}, STARTUP_MS + 120_000);

afterAll(async () => {
  await Promise.allSettled([python?.close(), go?.close(), rust?.close(), typescript?.close(), probe?.close()]);
  await killAll();
  scratch.remove();
});

const opKey = (op: { readonly origin: string; readonly seq: number }) => `${op.origin}#${op.seq}`;
const publications = (p: Participant) => p.events.filter((e): e is Extract<ReceivedEvent, { event: 'publication' }> => e.event === 'publication');
const directs = (p: Participant) => p.events.filter((e): e is Extract<ReceivedEvent, { event: 'direct' }> => e.event === 'direct');

/** Through one server (srv.<id>), every page would be one: the tests stay far below PAGE messages. */
async function historyOn(server: string): Promise<ChatPublication[]> {
  const reply = await probe.request(`srv.${server}`, 'chat.history.request', { channel: CHANNEL, limit: PAGE }, { auth: warmupToken });
  const { messages, next } = reply.body as ChatHistoryReply;
  expect(next).toBeUndefined();
  return messages;
}

describe('Python, Go, Rust and TypeScript users on three replicating TypeScript servers', () => {
  it('register and log in with passwords on their own servers, then find each other and a channel on every server', async () => {
    for (const participant of everyone) {
      expect(await participant.register(PASSWORD)).toMatchObject({ user: participant.user });
      await expect(participant.login('not the password'), `${participant.language}'s wrong password`).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
      const login = await participant.login(PASSWORD);
      expect(login).toMatchObject({ user: participant.user, token: expect.any(String), refresh_token: expect.any(String) });
      expect(login.expires_at).toBeGreaterThan(Date.now());
    }

    // Logins replicate: each user soon sees all three through the server it talks to.
    const users = everyone.map((p) => p.user).sort();
    await waitFor(async () => {
      const lists = await Promise.all(everyone.map(async (p) => (await p.users()).users.map((u) => u.user)));
      return lists.every((list) => users.every((user) => list.includes(user)));
    }, 'every user listed by every server', SETTLE_MS);

    const created = await typescript.createChannel(CHANNEL);
    expect(created).toMatchObject({ channel: CHANNEL, created: true, created_by: 'carla-ts' });
    await waitFor(async () => {
      const lists = await Promise.all([python.channels(), go.channels(), rust.channels()]);
      return lists.every((list) => list.channels.some((c) => c.channel === CHANNEL));
    }, `channel ${CHANNEL} listed by srv-1, srv-2 and srv-3`, SETTLE_MS);
    expect(await go.createChannel(CHANNEL)).toEqual({ ...created, created: false });
    expect(await rust.createChannel(CHANNEL)).toEqual({ ...created, created: false });
    expect((await python.channels()).channels).toContainEqual({ channel: CHANNEL, created_by: 'carla-ts', created_at: created.created_at });
  }, 90_000);

  it('deliver every publication and direct message to everyone, stored alike on every server, in Lamport order', async () => {
    for (const participant of everyone) await participant.join(CHANNEL);

    // Subscriptions travel SUB → proxy → every server's PUB asynchronously: publish warm-up
    // messages through each server until each user got one publication and one direct message
    // from each, so nothing published after can be missed for want of a subscription.
    await probe.request('srv.srv-1', 'chat.register.request', { user: WARMUP, password: PASSWORD });
    warmupToken = ((await probe.request('srv.srv-1', 'chat.login.request', { user: WARMUP, password: PASSWORD })).body as ChatLoginReply).token!;
    // The registration replicates: every server accepts the token once it has it.
    const accepted = (server: string) => probe.request(`srv.${server}`, 'chat.channels.request', {}, { auth: warmupToken }).then(() => true, () => false);
    await waitFor(async () => (await Promise.all(topology.servers.map(accepted))).every(Boolean), 'every server accepting the warm-up token', SETTLE_MS);
    const warmups: ChatPublishReply[] = [];
    const reached = (p: Participant, origin: string) =>
      publications(p).some((e) => e.message.op.origin === origin) && directs(p).some((e) => e.message.op.origin === origin);
    await waitFor(async () => {
      const missing = topology.servers.filter((server) => !everyone.every((p) => reached(p, server)));
      for (const server of missing) {
        const service = `srv.${server}`;
        const auth = { auth: warmupToken };
        warmups.push((await probe.request(service, 'chat.publish.request', { channel: CHANNEL, text: `warm-up via ${server}` }, auth)).body as ChatPublishReply);
        for (const p of everyone) await probe.request(service, 'chat.direct.request', { to: p.user, text: `warm-up via ${server}` }, auth);
      }
      return missing.length === 0;
    }, 'every subscription reaching every server', SETTLE_MS, 250);

    // Rounds: everyone publishes and sends one direct message at once, then waits until everyone
    // has received the round before the next one starts.
    const sent: { round: number; sender: Participant; publication: ChatPublishReply; direct: ChatDirectReply; to: Participant; text: string }[] = [];
    for (let round = 1; round <= ROUNDS; round += 1) {
      const step = round % 2 === 1 ? 1 : 2; // the ring forwards, then backwards
      const acks = await Promise.all(
        everyone.map(async (sender, index) => {
          const to = everyone[(index + step) % everyone.length]!;
          const text = `round ${round} from ${sender.language}: olá ✓`;
          const [publication, direct] = await Promise.all([sender.publish(CHANNEL, text), sender.direct(to.user, text)]);
          return { round, sender, publication, direct, to, text };
        }),
      );
      sent.push(...acks);
      const published = sent.map((s) => opKey(s.publication.op));
      await waitFor(
        () =>
          everyone.every((p) => {
            const got = new Set(publications(p).map((e) => opKey(e.message.op)));
            const dms = new Set(directs(p).map((e) => opKey(e.message.op)));
            return published.every((op) => got.has(op)) && sent.filter((s) => s.to === p).every((s) => dms.has(opKey(s.direct.op)));
          }),
        `round ${round} received by everyone`,
        SETTLE_MS,
      );
    }

    const acknowledged = sent.map((s) => opKey(s.publication.op)).sort();
    for (const p of everyone) {
      // Everyone received exactly the acknowledged publications (each once), with the right content…
      const received = publications(p).filter((e) => e.message.user !== WARMUP);
      expect(received.map((e) => opKey(e.message.op)).sort(), `${p.language}'s publications`).toEqual(acknowledged);
      for (const event of received) {
        const source = sent.find((s) => opKey(s.publication.op) === opKey(event.message.op))!;
        expect(event.message).toMatchObject({ channel: CHANNEL, user: source.sender.user, text: source.text, lc: source.publication.lc });
        expect(event.topic).toBe(`chan/${CHANNEL}/`);
      }
      // …and exactly the direct messages sent to them,
      const dms = directs(p).filter((e) => e.message.from !== WARMUP);
      const expected = sent.filter((s) => s.to === p);
      expect(dms.map((e) => opKey(e.message.op)).sort(), `${p.language}'s direct messages`).toEqual(expected.map((s) => opKey(s.direct.op)).sort());
      for (const event of dms) {
        const source = expected.find((s) => opKey(s.direct.op) === opKey(event.message.op))!;
        expect(event.message).toMatchObject({ from: source.sender.user, to: p.user, text: source.text, lc: source.direct.lc });
        expect(event.topic).toBe(`user/${p.user}/`);
      }
      // with no loss in the numbering, and a Lamport clock past every lc received.
      expect(p.events.filter((e) => e.event === 'gap'), `${p.language}'s gaps`).toEqual([]);
      for (const event of p.events) if (event.event !== 'gap') expect(event.lc, `${p.language}'s clock after ${opKey(event.message.op)}`).toBeGreaterThan(event.message.lc);
      const highest = Math.max(...p.events.map((e) => (e.event === 'gap' ? 0 : e.message.lc)));
      expect(await p.lc(), `${p.language}'s clock`).toBeGreaterThan(highest);
    }

    // Lamport order across languages: each sender had received every publication of the previous
    // round (and its direct message) before sending, so what it sent next carries a larger lc.
    for (let round = 2; round <= ROUNDS; round += 1) {
      const before = sent.filter((s) => s.round === round - 1);
      for (const s of sent.filter((x) => x.round === round)) {
        const seen = Math.max(...before.map((b) => b.publication.lc), ...before.filter((b) => b.to === s.sender).map((b) => b.direct.lc));
        expect(s.publication.lc, `${s.sender.language}'s round ${round} publication`).toBeGreaterThan(seen);
        expect(s.direct.lc, `${s.sender.language}'s round ${round} direct message`).toBeGreaterThan(seen);
      }
    }

    // Every server converges on the same history: every acknowledged publication, warm-ups
    // included, once each and in the same order everywhere.
    const all = [...acknowledged, ...warmups.map((w) => opKey(w.op))].sort();
    let histories: ChatPublication[][] = [];
    await waitFor(async () => {
      histories = await Promise.all(topology.servers.map(historyOn));
      return histories.every((h) => h.length === all.length);
    }, 'every server storing every publication', SETTLE_MS);
    expect(histories[0]!.map((m) => opKey(m.op)).sort()).toEqual(all);
    expect(histories[1]).toEqual(histories[0]);
    expect(histories[2]).toEqual(histories[0]);
    // Each user's publications appear in the order they were sent, with rising lc.
    for (const p of everyone) {
      const own = histories[0]!.filter((m) => m.user === p.user);
      expect(own.map((m) => m.text)).toEqual(sent.filter((s) => s.sender === p).map((s) => s.text));
      expect(own.map((m) => m.lc)).toEqual([...own.map((m) => m.lc)].sort((a, b) => a - b));
    }
    // Each language reads that same history through its own server.
    for (const p of everyone) expect((await p.history(CHANNEL)).messages, `${p.language}'s history`).toEqual(histories[0]);
  }, 120_000);
});
