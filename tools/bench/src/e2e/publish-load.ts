// Publish load for the end-to-end benchmark: --clients concurrent chat clients (one request in
// flight each; one connection each, as a person's client would, or --clients-per-connection of
// them sharing one, as a gateway or an application server would) publish to the `chat` service for
// --warmup + --duration ms: with `--route direct` (the default, as ChatClient does) straight to the
// direct endpoint of a server each client picks from the reference server's list once connected
// there, through the broker meanwhile; with `--route broker` through the broker only. A publication counts once acknowledged; a retryable
// refusal is retried under the same request id (the server de-duplicates), and its latency runs
// from the first attempt. Prints one JSON line with the counts, and writes the op ids of every
// acknowledged publication and the latencies measured to --acked-file (JSON), so the orchestrator
// can check delivery and merge percentiles across load processes.
import { writeFileSync } from 'node:fs';
import { CorreioError } from '@correio/codec';
import { chatServerFinder } from '@correio/discovery';
import type { AnyEnvelope, BodyOf } from '@correio/protocol';
import { DirectRoute, RequestClient, type RequestOptions } from '@correio/transport';
import { arg, numberArg } from '../peers/args.js';
import { ClosedLoop } from './closed-loop.js';

const broker = arg('broker');
const clients = numberArg('clients');
const durationMs = numberArg('duration');
const warmupMs = numberArg('warmup', 1_000);
const tag = arg('tag');
const channel = arg('channel');
const user = arg('user');
/** The user's access token: the servers run in password mode. */
const token = arg('token');
const ackedFile = arg('acked-file');
/** Each attempt's timeout; a write that is not acknowledged within it is retried under its id. */
const ATTEMPT_TIMEOUT_MS = 10_000;
/** A publication not acknowledged after this many attempts counts as failed. */
const MAX_ATTEMPTS = 20;

const direct = arg('route', 'direct') === 'direct';
/** Publishers sharing one connection (a broker DEALER and its direct route), as jetstream-load.ts shares a `nats` connection. */
const perConnection = numberArg('clients-per-connection', 1);
const connections = Math.ceil(clients / perConnection);
const brokerClients = Array.from({ length: connections }, (_, i) => new RequestClient({ endpoint: broker, from: `${tag}-${i}`, timeout: ATTEMPT_TIMEOUT_MS }));
/** One client's publications: on a DirectRoute over its broker connection, or on that connection alone. */
type Publisher = (body: BodyOf<'chat.publish.request'>, options: RequestOptions) => Promise<AnyEnvelope>;
/** `channel`: every client's direct route picks the channel's server (chatServerFinder's key), the origin of all its writes; `random`: one each at random. */
const serverChoice = arg('server-choice', 'channel');
if (serverChoice !== 'channel' && serverChoice !== 'random') throw new Error(`--server-choice: channel or random, not ${serverChoice}`);
const routes = direct
  ? brokerClients.map((client) => new DirectRoute({ broker: client, brokerEndpoints: broker, service: 'chat', find: chatServerFinder(client, serverChoice === 'channel' ? { key: channel } : {}) }))
  : [];
const sockets: Publisher[] = brokerClients.map((client, i) =>
  direct ? (body, options) => routes[i]!.request('chat.publish.request', body, options) : (body, options) => client.request('chat', 'chat.publish.request', body, options),
);
const latenciesUs: number[] = [];
const acked: string[] = [];
const errors: Record<string, number> = {};
/** The first message of each error code, to say why. */
const firstErrors: Record<string, string> = {};
let retries = 0;
let failed = 0;
const loop = new ClosedLoop();

/** The sender's clock in ms since the epoch, sub-millisecond: the subscriber's delivery latency reads it back from the text. */
const cpuSeconds = () => { const { user, system } = process.cpuUsage(); return (user + system) / 1e6; };
const epochMs = () => performance.timeOrigin + performance.now();

async function publishOnce(publish: Publisher, id: string): Promise<string | undefined> {
  const sentAt = epochMs();
  const started = performance.now();
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    try {
      const reply = await publish({ user, channel, text: `${sentAt.toFixed(3)} ${id}` }, { id, retries: 0, auth: token });
      if (reply.type !== 'chat.publish.reply') throw new Error(`unexpected reply ${reply.type}`);
      if (loop.measuring) latenciesUs.push((performance.now() - started) * 1_000);
      return `${reply.body.op.origin}:${reply.body.op.seq}`;
    } catch (error) {
      const failure = CorreioError.from(error);
      errors[failure.code] = (errors[failure.code] ?? 0) + 1;
      firstErrors[failure.code] ??= failure.message;
      if (!failure.retryable) break;
      retries++;
      await new Promise((resolve) => setTimeout(resolve, Math.min(200, 5 * attempt)));
    }
  }
  failed++;
  return undefined;
}

const cpuAtStart = cpuSeconds();
const wallAtStart = performance.now();
// Give the DEALERs a moment to connect, so the first requests do not time out on connection setup.
await new Promise((resolve) => setTimeout(resolve, 300));
const { acks, seconds } = await loop.run({
  clients,
  warmupMs,
  durationMs,
  drainMs: ATTEMPT_TIMEOUT_MS * 2,
  write: async (c, i) => {
    const op = await publishOnce(sockets[Math.floor(c / perConnection)]!, `${tag}-${c}-${i}`);
    if (op !== undefined) acked.push(op);
    return op !== undefined;
  },
});
await Promise.all(routes.map((route) => route.close()));
await Promise.all(brokerClients.map((client) => client.close()));
writeFileSync(ackedFile, JSON.stringify({ acked, latenciesUs }));
process.stdout.write(
  `${JSON.stringify({ clients, acks, perSecond: acks / seconds, total: acked.length, retries, failed, errors, firstErrors, cpuShare: (cpuSeconds() - cpuAtStart) / ((performance.now() - wallAtStart) / 1_000), rssBytes: process.memoryUsage.rss() })}\n`,
);
process.exit(0);
