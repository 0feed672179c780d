import type { AnyEnvelope } from '@correio/protocol';
import { RequestClient } from '@correio/transport';
import fc from 'fast-check';
import type { Topology } from '../Topology.js';
import { HostileAuth, signIn } from './credentials.js';
import { HostileCorpus, type Shot } from './hostileCorpus.js';
import { HostileSender } from './HostileSender.js';

/** Names the corpus uses that exist before it starts, so its requests get past the first lookup. */
export const HOSTILE_USERS = ['mallory', 'trudy'] as const;
export const HOSTILE_CHANNELS = ['mallet'] as const;
/** Shots generated per fast-check sample (batch b of seed s is always the same): small, so replies are read between batches. */
const BATCH = 8;
/** How many shot descriptions a report keeps, for the failure message. */
const RECENT = 40;

export interface CampaignOptions {
  readonly seed: number;
  /** How long to keep sending random shots after the roll call (ms); shots in flight then finish. */
  readonly durationMs: number;
  /** Requests in flight at once. Default 8. */
  readonly concurrency?: number;
  /** How long a request may go unanswered (ms); the broker answers within its deadline (5 s). Default 20 s. */
  readonly replyTimeoutMs?: number;
  /** Progress lines (soak). */
  readonly log?: (line: string) => void;
}

export interface CampaignReport {
  readonly seed: number;
  readonly batches: number;
  readonly requests: number;
  readonly publications: number;
  /** Requests by outcome: `ok` (a reply of the expected kind), an error code, `raw` (MMI) or `timeout`. */
  readonly outcomes: Readonly<Record<string, number>>;
  /** The requests that got no reply, described. */
  readonly unanswered: readonly string[];
  readonly malformedReplies: number;
  readonly types: ReadonlySet<string>;
  readonly services: ReadonlySet<string>;
  readonly topics: ReadonlySet<string>;
  /** The last shots sent, described: where to look when a process died. */
  readonly recent: readonly string[];
}

/**
 * Sends schema-valid hostile envelopes (HostileCorpus) at a running topology for `durationMs`:
 * requests to every service it exposes, publications on every topic its processes subscribe to,
 * `concurrency` requests at a time. Deterministic for a seed except for timing (what is in flight
 * together) and the wall clock the near-now timestamps are drawn around.
 */
export async function runCampaign(topology: Topology, options: CampaignOptions): Promise<CampaignReport> {
  const auth = await seedNames(topology);
  const corpus = new HostileCorpus({
    servers: topology.servers,
    otherIds: ['ref', 'broker-interop', 'honest-client'],
    users: [...HOSTILE_USERS, 'honest'],
    channels: [...HOSTILE_CHANNELS],
    now: Date.now(),
  });
  const sender = new HostileSender({ broker: topology.broker, proxyPublishers: topology.proxy!.publishers });
  const outcomes: Record<string, number> = {};
  const unanswered: string[] = [];
  const recent: string[] = [];
  const types = new Set<string>();
  const services = new Set<string>();
  const topics = new Set<string>();
  let requests = 0;
  let publications = 0;
  let batches = 0;
  // The roll call first (every type, service and topic once, whatever the machine's speed), then
  // random shots until the time budget is spent.
  let queue: Shot[] = corpus.rollCall(options.seed);
  const deadline = performance.now() + options.durationMs;
  const replyTimeoutMs = options.replyTimeoutMs ?? 20_000;

  const nextShot = async (): Promise<Shot | undefined> => {
    if (queue.length === 0) {
      if (performance.now() >= deadline) return undefined;
      queue = fc.sample(corpus.shot(), { seed: batchSeed(options.seed, batches), numRuns: BATCH });
      batches += 1;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return queue.shift();
  };
  const fire = async (shot: Shot): Promise<void> => {
    const description = describe(shot);
    recent.push(description);
    if (recent.length > RECENT) recent.shift();
    if (shot.kind === 'publish') {
      publications += 1;
      topics.add(shot.topic);
      for (const envelope of shot.envelopes) types.add(envelope.type);
      await sender.publish(shot.topic, shot.publisher, shot.seq, shot.envelopes);
      return;
    }
    requests += 1;
    types.add(shot.envelope.type);
    services.add(shot.service);
    const envelope = shot.envelope.type.startsWith('chat.') ? auth.stamp(shot.envelope) : shot.envelope;
    const outcome = await sender.request(shot.service, envelope, replyTimeoutMs);
    const key = outcome.kind === 'reply' ? outcomeOf(outcome.envelope) : outcome.kind;
    outcomes[key] = (outcomes[key] ?? 0) + 1;
    if (outcome.kind === 'timeout') unanswered.push(description);
  };

  let lastLog = performance.now();
  try {
    await Promise.all(
      Array.from({ length: options.concurrency ?? 8 }, async () => {
        for (let shot = await nextShot(); shot !== undefined; shot = await nextShot()) {
          await fire(shot);
          if (options.log && performance.now() - lastLog > 10_000) {
            lastLog = performance.now();
            options.log(`sent ${requests} requests and ${publications} publications; outcomes ${JSON.stringify(outcomes)}`);
          }
        }
      }),
    );
  } finally {
    await sender.close();
  }
  return { seed: options.seed, batches, requests, publications, outcomes, unanswered, malformedReplies: sender.malformedReplies, types, services, topics, recent };
}

/**
 * Logs the hostile users in and creates their channel, honestly; resolves with what the chat
 * requests of the corpus carry as auth: the users' tokens and forged ones.
 */
async function seedNames(topology: Topology): Promise<HostileAuth> {
  const client = new RequestClient({ endpoint: topology.broker, from: 'hostile-setup', timeout: 5_000, retries: 4 });
  try {
    const tokens: string[] = [];
    for (const user of HOSTILE_USERS) tokens.push(await signIn(client, topology, user));
    for (const channel of HOSTILE_CHANNELS) await client.request('chat', 'chat.channel.create.request', { user: HOSTILE_USERS[0], channel }, { auth: tokens[0]! });
    return await HostileAuth.forge(topology, tokens, HOSTILE_USERS[1]);
  } finally {
    await client.close();
  }
}

/** The seed of batch `batch`: distinct per batch, the same on every run. */
function batchSeed(seed: number, batch: number): number {
  return (seed ^ Math.imul(batch + 1, 0x9e3779b1)) | 0;
}

function outcomeOf(reply: AnyEnvelope): string {
  return reply.type === 'error' ? (reply.body as { code: string }).code : 'ok';
}

/** One line naming what a shot was: type, target, sender, clock. */
export function describe(shot: Shot): string {
  const first = shot.kind === 'request' ? shot.envelope : shot.envelopes[0]!;
  const target = shot.kind === 'request' ? `→ ${shot.service}` : `on ${shot.topic} seq ${shot.seq} (${shot.envelopes.length})`;
  return `${first.type} ${target} from ${JSON.stringify(first.from).slice(0, 40)} lc ${first.lc} ts ${first.ts}: ${JSON.stringify(first.body).slice(0, 160)}`;
}
