// A churn peer: one process hosting many zeromq sockets that connect to a running broker and
// proxy, send, close and reopen (same or new routing ids), until the soak SIGKILLs it mid-traffic.
// Run by runChurn with `--plan <json>` (a PeerPlan); prints `ready` once its sockets are open and
// `progress` counters every 250 ms as JSON lines. Every loop is bounded (rounds, lifetimeMs).
import { randomBytes } from 'node:crypto';
import * as zmq from 'zeromq';
import { MessageCodec, newRequestId } from '@correio/codec';
import { PROTOCOL_VERSION, type BodyOf, type MessageType } from '@correio/protocol';
import { argValue, randomInt, report, seededRandom } from '@correio/testing';
import { encodePublicationHeader, generateCurveKeyPair, mdp } from '@correio/transport';
import { ECHO_SERVICES, SOAK_CHANNEL, type PeerPlan } from './plan.js';

const plan = JSON.parse(argValue('plan')) as PeerPlan;
const random = seededRandom(plan.seed);
const codec = new MessageCodec();
const from = `soak-${plan.name}`;
/** Rounds (open, traffic, close) per socket slot: far more than a peer lives, so only the kill or lifetimeMs ends it. */
const MAX_ROUNDS = 1_000;
const counts = { opened: 0, requests: 0, replies: 0, served: 0, published: 0, received: 0, malformed: 0, hostile: 0, refusedSends: 0 };
let lc = 0;

const pick = <T>(items: readonly T[]): T => items[randomInt(random, 0, items.length - 1)]!;
const chance = (p: number): boolean => random() < p;
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Half the time a name every peer shares (a killed peer's routing id comes back), else a fresh one. */
function routingId(role: string): string {
  return chance(0.5) ? `soak-${role}-${randomInt(random, 0, plan.idPool - 1)}` : `soak-${role}-${plan.name}-${randomBytes(4).toString('hex')}`;
}

type Security = 'curve' | 'wrong-key' | 'plaintext';

function security(kind: Security): Record<string, unknown> {
  if (kind === 'plaintext') return {};
  const own = generateCurveKeyPair();
  const serverKey = kind === 'curve' ? plan.serverKey : generateCurveKeyPair().publicKey;
  return { curveServerKey: serverKey, curvePublicKey: own.publicKey, curveSecretKey: own.secretKey };
}

/**
 * Common options: a close sometimes drops what is queued (linger 0), sometimes lingers a little.
 * Only options the socket type has: zeromq.js 6.8 throws on another one, and a socket whose
 * constructor threw crashes the process at exit (SIGSEGV in the module's finalizer).
 */
function options(kind: Security, own: Record<string, number> = {}): Record<string, unknown> {
  return { linger: chance(0.5) ? 0 : 50, ...own, ...security(kind) };
}

/** A send never waits: a full queue fails at once (counted as a refused send). */
const DEALER_QUEUES = { sendTimeout: 0, sendHighWaterMark: 200, receiveHighWaterMark: 1_000 };
const PUB_QUEUES = { sendTimeout: 0, sendHighWaterMark: 1_000 };

/** One send at a time per socket (zeromq.js refuses concurrent sends); a full queue counts as a refused send. */
function serialSender(socket: zmq.Writable & zmq.Socket): (frames: Array<Buffer | Uint8Array | string>) => Promise<void> {
  let chain = Promise.resolve();
  return (frames) =>
    (chain = chain.then(async () => {
      if (socket.closed) return;
      await socket.send(frames).catch(() => void counts.refusedSends++);
    }));
}

/** Calls `onMessage` for each message until the socket closes. */
async function receiveAll(socket: zmq.Readable & zmq.Socket, onMessage: (frames: Buffer[]) => void | Promise<void>): Promise<void> {
  while (!socket.closed) {
    try {
      await onMessage(await socket.receive());
    } catch {
      return; // closed under the receive
    }
  }
}

function envelope<T extends MessageType>(type: T, body: BodyOf<T>, auth?: string): Uint8Array {
  return codec.encode({ v: PROTOCOL_VERSION, type, id: newRequestId(), from, lc: ++lc, ts: Date.now(), body, ...(auth === undefined ? {} : { auth }) } as never);
}

/** A chat request acting as the soak user (the servers run in password mode). */
const asUser = <T extends MessageType>(type: T, body: BodyOf<T>): Uint8Array => envelope(type, body, plan.account.token);

/** One client request: mostly well formed, to every kind of service; some malformed on purpose. */
function request(): Array<Buffer | Uint8Array | string> {
  const roll = random();
  if (roll < 0.2) return mdp.clientRequest('chat', [asUser('chat.history.request', { channel: SOAK_CHANNEL, limit: 20 })]);
  if (roll < 0.3) return mdp.clientRequest('chat', [asUser('chat.users.request', { limit: 10 })]);
  // A refresh rather than a password login: a login costs the server a slow scrypt hash on purpose.
  if (roll < 0.4) return mdp.clientRequest('chat', [envelope('chat.refresh.request', { refresh_token: plan.account.refreshToken })]);
  if (roll < 0.45) return mdp.clientRequest('chat', [asUser('chat.publish.request', { user: plan.account.user, channel: SOAK_CHANNEL, text: `churn ${plan.name} ${lc}` })]);
  if (roll < 0.5) return mdp.clientRequest(`srv.${plan.serverId}`, [asUser('chat.channels.request', { limit: 10 })]);
  if (roll < 0.55) return mdp.clientRequest('ref', [envelope('ref.servers.request', {})]);
  if (roll < 0.8) {
    const k = randomInt(random, 0, ECHO_SERVICES - 1);
    return mdp.clientRequest(`svc.soak${k}`, [envelope('service.call.request', { action: `soak${k}.echo`, params: { n: lc } })]);
  }
  if (roll < 0.85) return mdp.clientRequest('mmi.service', [pick(['chat', 'ref', 'svc.soak0', 'svc.nobody'])]);
  if (roll < 0.9) return mdp.clientRequest('svc.nobody', [envelope('service.call.request', { action: 'nobody.call' })]);
  counts.malformed++;
  if (roll < 0.95) return mdp.clientRequest('chat', [randomBytes(randomInt(random, 1, 64))]); // not MessagePack
  return [mdp.MDP_CLIENT, Buffer.of(0x07), 'chat']; // an unknown command without a body
}

async function client(): Promise<void> {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const socket = new zmq.Dealer({ routingId: routingId('c'), ...options('curve', DEALER_QUEUES) });
    socket.connect(pick(plan.broker));
    counts.opened++;
    const send = serialSender(socket);
    const receiving = receiveAll(socket, (frames) => {
      if (frames[1]?.[0] === mdp.ClientCommand.Final) counts.replies++;
    });
    const burst = randomInt(random, 5, 30);
    for (let i = 0; i < burst; i++) {
      await send(request());
      counts.requests++;
      await pause(randomInt(random, 5, 60));
    }
    await pause(randomInt(random, 100, 1_500)); // replies arrive meanwhile; some never will: the socket closes with requests in flight
    socket.close();
    await receiving;
  }
}

async function worker(slot: number): Promise<void> {
  const service = `svc.soak${slot % ECHO_SERVICES}`;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const socket = new zmq.Dealer({ routingId: routingId('w'), ...options('curve', DEALER_QUEUES) });
    socket.connect(pick(plan.broker));
    counts.opened++;
    const send = serialSender(socket);
    await send(mdp.workerReady(service));
    const heartbeat = setInterval(() => void send(mdp.workerHeartbeat()), plan.heartbeatMs);
    const slow = chance(0.3); // a slow worker dies or closes with requests in flight
    const receiving = receiveAll(socket, async (frames) => {
      const message = mdp.parseWorkerMessage(frames);
      if (message.kind === 'request') {
        counts.served++;
        if (slow) await pause(randomInt(random, 50, 400));
        await send(mdp.workerReply('final', message.client, message.body));
      } else if (message.kind === 'disconnect') {
        socket.close(); // the broker refused us (a second READY under a reused id): reconnect as RFC 18 says
      }
    });
    await Promise.race([pause(randomInt(random, 500, 4_000)), receiving]);
    clearInterval(heartbeat);
    if (!socket.closed && chance(0.5)) await send(mdp.workerDisconnect());
    socket.close();
    await receiving;
  }
}

function publicationBodies(topicIndex: number, count: number): Buffer {
  const bodies = Array.from({ length: count }, () => envelope('service.event', { event: `soak${topicIndex}`, sender: from, data: { lc } }));
  return Buffer.concat(bodies);
}

/** What a confused or hostile publisher sends on topics the servers and the ref read. */
function malformedPublication(): Array<Buffer | Uint8Array | string> {
  counts.malformed++;
  const topic = pick(['replica/', 'election/', 'ref/membership/', `chan/${SOAK_CHANNEL}/`]);
  switch (randomInt(random, 0, 3)) {
    case 0:
      return [topic, randomBytes(randomInt(random, 1, 32))]; // two frames, a garbage header
    case 1:
      return [topic, encodePublicationHeader({ p: from, s: 1, n: 1 }), randomBytes(randomInt(random, 1, 128))]; // bodies not MessagePack
    case 2:
      return [topic, encodePublicationHeader({ p: from, s: randomInt(random, 1, 1_000), n: 2 }), publicationBodies(0, 1)]; // n says 2, one body
    default:
      return [topic, encodePublicationHeader({ p: from, s: 1, n: 1 }), publicationBodies(0, 1)]; // a valid envelope of the wrong type for the topic
  }
}

async function publisher(slot: number): Promise<void> {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const socket = new zmq.Publisher(options('curve', PUB_QUEUES));
    socket.connect(plan.publishers);
    counts.opened++;
    const send = serialSender(socket);
    const id = `${from}-p${slot}-${round}`;
    const sequence = new Map<number, number>();
    const until = Date.now() + randomInt(random, 1_000, 5_000); // long enough for subscriptions to reach the publishers
    while (Date.now() < until) {
      if (chance(0.05)) await send(malformedPublication());
      else {
        const k = randomInt(random, 0, ECHO_SERVICES - 1);
        const n = randomInt(random, 1, 5);
        const s = sequence.get(k) ?? 1;
        sequence.set(k, s + n);
        await send([`svc/soak${k}/`, encodePublicationHeader({ p: id, s, n }), publicationBodies(k, n)]);
        counts.published += n;
      }
      await pause(randomInt(random, 10, 50));
    }
    socket.close();
  }
}

async function subscriber(): Promise<void> {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const lazy = chance(0.2); // never reads: its queues fill up to the proxy's high-water mark
    const socket = new zmq.Subscriber(options('curve', { receiveHighWaterMark: lazy ? 100 : 1_000 }));
    socket.connect(plan.subscribers);
    counts.opened++;
    const topics = [`svc/soak${randomInt(random, 0, ECHO_SERVICES - 1)}/`, `chan/${SOAK_CHANNEL}/`, 'ref/membership/', `user/soak-u${randomInt(random, 0, plan.idPool - 1)}/`, `svc/soak-x${randomInt(random, 0, plan.idPool - 1)}/`];
    socket.subscribe(...topics);
    const until = Date.now() + randomInt(random, 1_000, 5_000); // long enough for subscriptions to reach the publishers
    const receiving = lazy
      ? Promise.resolve()
      : receiveAll(socket, () => {
          counts.received++;
          if (chance(0.01)) {
            const topic = pick(topics);
            socket.unsubscribe(topic);
            socket.subscribe(topic);
          }
        });
    await pause(until - Date.now());
    socket.close();
    await receiving;
  }
}

/** A socket whose every handshake the CURVE servers refuse: a wrong server key or no CURVE at all. */
async function hostile(kind: Security): Promise<void> {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const target = randomInt(random, 0, 2);
    let socket: zmq.Dealer | zmq.Subscriber | zmq.Publisher;
    if (target === 0) {
      const dealer = (socket = new zmq.Dealer({ routingId: routingId('h'), ...options(kind, DEALER_QUEUES) }));
      dealer.connect(pick(plan.broker));
      await serialSender(dealer)(request()); // queued locally: it never gets through
    } else if (target === 1) {
      const sub = (socket = new zmq.Subscriber(options(kind)));
      sub.connect(plan.subscribers);
      sub.subscribe('');
    } else {
      const pub = (socket = new zmq.Publisher(options(kind, PUB_QUEUES)));
      pub.connect(plan.publishers);
      await serialSender(pub)(['svc/soak0/', encodePublicationHeader({ p: from, s: 1, n: 1 }), publicationBodies(0, 1)]);
    }
    counts.opened++;
    counts.hostile++;
    await pause(randomInt(random, 300, 3_000)); // libzmq retries the refused handshake every 100 ms meanwhile
    socket.close();
  }
}

const loops: Array<Promise<void>> = [];
const { sockets } = plan;
for (let i = 0; i < sockets.clients; i++) loops.push(client());
for (let i = 0; i < sockets.workers; i++) loops.push(worker(i));
for (let i = 0; i < sockets.publishers; i++) loops.push(publisher(i));
for (let i = 0; i < sockets.subscribers; i++) loops.push(subscriber());
for (let i = 0; i < sockets.wrongKey; i++) loops.push(hostile('wrong-key'));
for (let i = 0; i < sockets.plaintext; i++) loops.push(hostile('plaintext'));
report('ready', { sockets: loops.length });
setInterval(() => report('progress', counts), 250);
// A bound for a peer nobody kills; the soak normally SIGKILLs it long before.
setTimeout(() => {
  report('progress', counts);
  process.exit(0);
}, plan.lifetimeMs);
void Promise.all(loops).catch((error: unknown) => {
  process.stderr.write(`churn peer ${plan.name} failed: ${String(error)}\n`);
  process.exit(1);
});
