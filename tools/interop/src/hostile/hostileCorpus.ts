import { checkEnvelope, DEFAULT_LIMITS, encode, type Limits } from '@correio/codec';
import { MESSAGE_INFO, MESSAGE_TYPES, PROTOCOL_VERSION, type AnyEnvelope, type MessageType, type Operation } from '@correio/protocol';
import { workspaceRoot } from '@correio/testing';
import fc from 'fast-check';
import { join } from 'node:path';
import { boundaryInteger } from './boundaries.js';
import { SchemaArbitraries } from './schemaArbitrary.js';

/** What the corpus knows about the system it is aimed at, so its values can name real things. */
export interface CorpusOptions {
  /** The chat servers' ids: impersonated as senders and origins, addressed as srv.<id>. */
  readonly servers: readonly string[];
  /** Other process ids worth impersonating (the ref, the broker). */
  readonly otherIds?: readonly string[];
  /** Users and channels that exist (or will), so requests get past the first lookup. */
  readonly users?: readonly string[];
  readonly channels?: readonly string[];
  /** The wall clock the timestamps near now are drawn around (ms); fixed, so a seed gives the same corpus. */
  readonly now: number;
  /** The decoder limits every envelope must stay within; the defaults of ENCODING.md §2. */
  readonly limits?: Limits;
}

/** One hostile message: a request to a broker service, or envelopes published on a topic. */
export type Shot =
  | { readonly kind: 'request'; readonly service: string; readonly envelope: AnyEnvelope }
  | { readonly kind: 'publish'; readonly topic: string; readonly publisher: string; readonly seq: number; readonly envelopes: readonly AnyEnvelope[] };

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** The envelope map is one level: a body sits one map deep. */
const BODY_DEPTH = 1;
/** The most envelopes the corpus puts in one pub/sub batch (FRAMES.md §3.2 allows 1000). */
const MAX_BATCH = 3;

/**
 * Schema-valid hostile envelopes for every message type of protocol/schemas/v1: each passes the
 * protocol's validators (checked as it is made: a schema the generator misreads fails loudly
 * rather than sending invalid bytes) and fits the decoder limits, yet carries extreme values —
 * clocks, sequence numbers, ranks and terms at 0, 1 and 2^53−1, timestamps at the epoch, now, far
 * past and far future, strings and arrays at their maximum lengths, untyped payloads nested to the
 * limit, ids of the real servers in `from` and `origin`. `shot()` aims them: requests at every
 * service the topology exposes (and some it does not), publications on every topic its processes
 * subscribe to, with publication headers at the sequence-number boundaries.
 */
export class HostileCorpus {
  readonly #schemas: SchemaArbitraries;
  readonly #options: CorpusOptions;
  readonly #limits: Limits;

  constructor(options: CorpusOptions) {
    this.#options = options;
    this.#limits = options.limits ?? DEFAULT_LIMITS;
    const { now, servers } = options;
    const ids = [...servers, ...(options.otherIds ?? [])];
    const years = 365 * 24 * 3_600_000;
    this.#schemas = SchemaArbitraries.load(join(workspaceRoot, 'protocol', 'schemas', 'v1'), {
      maxDepth: this.#limits.maxDepth,
      maxBytes: this.#limits.maxBytes,
      pools: {
        nodeId: ids,
        userName: options.users ?? [],
        channelName: options.channels ?? [],
        timestamp: [now, now + 60_001, now - 60_001, now + 100 * years, now - 30 * years],
        hlc: [[now, 0], [now + 60_001, 2 ** 32 - 1], [now + 100 * years, 0], [MAX_SAFE, 2 ** 32 - 1], [0, 0]],
        cursor: ids.flatMap((origin) => [cursorFor(MAX_SAFE, 2 ** 32 - 1, MAX_SAFE, origin), cursorFor(0, 0, 1, origin), cursorFor(now, 0, 1, origin)]),
      },
    });
  }

  /** Envelopes of `type` (any type when absent), each valid and within the limits. */
  envelope(type?: MessageType): fc.Arbitrary<AnyEnvelope> {
    const types = type ? fc.constant(type) : fc.constantFrom(...MESSAGE_TYPES);
    return types.chain((chosen) =>
      fc
        .record({
          id: this.#schemas.definition('requestId', BODY_DEPTH),
          from: this.#schemas.definition('nodeId', BODY_DEPTH),
          lc: this.#schemas.definition('lamport', BODY_DEPTH),
          ts: this.#schemas.definition('timestamp', BODY_DEPTH),
          body: this.#schemas.of(`${chosen}.json`, BODY_DEPTH),
        })
        .map((fields) => this.#admit({ v: PROTOCOL_VERSION, type: chosen, ...fields } as AnyEnvelope)),
    );
  }

  /** Hostile messages aimed at a topology: mostly where each type belongs, sometimes anywhere. */
  shot(): fc.Arbitrary<Shot> {
    const request = this.envelope().chain((envelope) =>
      fc.record({ kind: fc.constant('request' as const), service: this.#serviceFor(envelope.type), envelope: fc.constant(envelope) }),
    );
    const publication = fc
      .record({
        envelopes: fc.array(this.envelope(), { minLength: 1, maxLength: MAX_BATCH }),
        publisher: fc.oneof(fc.constantFrom(...this.#options.servers), fc.stringMatching(/^[\x21-\x7e]{1,128}$/)),
        seq: boundaryInteger(1, MAX_SAFE),
      })
      .chain(({ envelopes, publisher, seq }) =>
        this.#topicFor(envelopes[0]!).map((topic) => ({ kind: 'publish' as const, topic, publisher, seq, envelopes })),
      );
    return fc.oneof({ arbitrary: request, weight: 3 }, { arbitrary: publication, weight: 1 });
  }

  /**
   * One shot of every message type at the service it belongs to (events: on their topic), then one
   * of a random type at every other service and topic a topology exposes: the coverage a campaign
   * gets however few random shots a slow machine fits in its time budget.
   */
  rollCall(seed: number): Shot[] {
    const one = <T>(arbitrary: fc.Arbitrary<T>, salt: number): T => fc.sample(arbitrary, { seed: seed + salt, numRuns: 1 })[0]!;
    const servers = this.#options.servers.map((id) => `srv.${id}`);
    const topics = ['replica/', 'election/', 'ref/membership/', ...(this.#options.channels ?? []).map((channel) => `chan/${channel}/`)];
    const typed = MESSAGE_TYPES.map((type, i): Shot => {
      const envelope = one(this.envelope(type), i);
      const topic = this.#ownTopic(envelope);
      if (MESSAGE_INFO[type].pattern === 'event' && topic) return { kind: 'publish', topic, publisher: 'roll-call', seq: 1, envelopes: [envelope] };
      return { kind: 'request', service: one(this.#serviceFor(type, 0), i), envelope };
    });
    const services = ['chat', 'ref', 'mmi.service', 'svc.nobody', ...servers].map((service, i): Shot => ({ kind: 'request', service, envelope: one(this.envelope(), 1_000 + i) }));
    const published = topics.map((topic, i): Shot => ({ kind: 'publish', topic, publisher: 'roll-call', seq: MAX_SAFE - 1, envelopes: [one(this.envelope(), 2_000 + i)] }));
    return [...typed, ...services, ...published];
  }

  /** The envelope as validated, shortened until it encodes within the size limit. */
  #admit(generated: AnyEnvelope): AnyEnvelope {
    let envelope = this.#withForeignOrigins(generated);
    // Arrays at their maxItems of items at their maxLength can pass 1 MiB; the longest array is
    // halved until the whole fits (every array schema of protocol/ allows 1 item).
    for (let round = 0; encode(envelope).byteLength > this.#limits.maxBytes; round++) {
      if (round > 64) throw new Error(`cannot fit a ${envelope.type} envelope within ${this.#limits.maxBytes} bytes`);
      if (round === 0) envelope = structuredClone(envelope); // generated values may share constants (pools)
      const longest = longestArray(envelope.body);
      if (!longest) throw new Error(`a ${envelope.type} envelope is over ${this.#limits.maxBytes} bytes with no array to shorten`);
      longest.length = Math.ceil(longest.length / 2);
    }
    return checkEnvelope(envelope);
  }

  /**
   * Operations to store (replica.op, replica.apply.request) forged under another origin than a
   * real server's; servers drop (or refuse) them, as they store operations only from origins the
   * membership lists (docs/architecture.md, "Accepted origins"). Replication is not authenticated (docs/architecture.md, "Not provided"): an
   * operation forged under a live server's id, at its next sequence number, is stored by the
   * replicas in place of the real one that follows — no check on content can tell them apart; only
   * authenticated replication can. That is reported, not exercised here; every other field may
   * still name the servers.
   */
  #withForeignOrigins(envelope: AnyEnvelope): AnyEnvelope {
    if (envelope.type !== 'replica.op' && envelope.type !== 'replica.apply.request') return envelope;
    const servers = new Set(this.#options.servers);
    const foreign = (op: Operation): Operation => (servers.has(op.op.origin) ? { ...op, op: { ...op.op, origin: `${op.op.origin}.forged` } } : op);
    const body = envelope.type === 'replica.op' ? foreign(envelope.body as Operation) : { ops: (envelope.body as { ops: Operation[] }).ops.map(foreign) };
    return { ...envelope, body } as AnyEnvelope;
  }

  /** Where each type belongs, sometimes (weight `stray` in 4) anywhere. */
  #serviceFor(type: MessageType, stray = 1): fc.Arbitrary<string> {
    const servers = this.#options.servers.map((id) => `srv.${id}`);
    const own: Record<string, readonly string[]> = {
      chat: ['chat', ...servers],
      replica: servers,
      clock: servers,
      election: servers,
      ref: ['ref'],
      config: ['config', ...servers],
      logs: ['logs', ...servers],
      // `tasks` is served by the coordinator alone; tasks.copy and the catch-up reads by each server.
      tasks: ['tasks', ...servers],
    };
    const intended = own[MESSAGE_INFO[type].service ?? ''] ?? ['chat'];
    const anywhere = fc.oneof(
      fc.constantFrom('chat', 'ref', 'mmi.service', 'mmi.nothing', ...servers),
      this.#schemas.definition('serviceName', 0).map((name) => `svc.${name as string}`),
      this.#schemas.definition('nodeId', 0).map((id) => `srv.${id as string}`),
    );
    return stray === 0 ? fc.constantFrom(...intended) : fc.oneof({ arbitrary: fc.constantFrom(...intended), weight: 4 - stray }, { arbitrary: anywhere, weight: stray });
  }

  #topicFor(envelope: AnyEnvelope): fc.Arbitrary<string> {
    const subscribed = fc.constantFrom('replica/', 'election/', 'ref/membership/', ...(this.#options.channels ?? []).map((channel) => `chan/${channel}/`));
    const intended = this.#ownTopic(envelope);
    return intended ? fc.oneof({ arbitrary: fc.constant(intended), weight: 3 }, { arbitrary: subscribed, weight: 1 }) : subscribed;
  }

  /** The topic an event type is published on, if it is one. */
  #ownTopic(envelope: AnyEnvelope): string | undefined {
    const body = envelope.body as Record<string, unknown>;
    const own: Partial<Record<MessageType, string>> = {
      'replica.op': 'replica/',
      'election.coordinator': 'election/',
      'ref.membership': 'ref/membership/',
      'chat.publication': `chan/${String(body['channel'])}/`,
      'chat.direct': `user/${String(body['to'])}/`,
      'service.event': `svc/${String(body['event'])}/`,
      'service.announce': `announce/${String(body['service'])}/`,
    };
    return own[envelope.type];
  }
}

/** The array holding the most encoded bytes anywhere in `value`. */
function longestArray(value: unknown): unknown[] | undefined {
  let best: unknown[] | undefined;
  let bestBytes = -1;
  const walk = (node: unknown): void => {
    if (typeof node !== 'object' || node === null || node instanceof Uint8Array) return;
    // Only an array that can still be halved: a one-item list of jobs may hold a long list inside.
    if (Array.isArray(node) && node.length > 1) {
      const bytes = encode(node).byteLength;
      if (bytes > bestBytes) [best, bestBytes] = [node, bytes];
    }
    for (const child of Object.values(node)) walk(child);
  };
  walk(value);
  return best;
}

/**
 * A paging cursor in the layout the chat server issues (apps/server/src/cursor.ts, opaque to
 * clients): [1][wall u64][logical u32][seq u64][origin], base64url. Random cursors never decode,
 * so the corpus carries well-formed ones at the extremes of the order key.
 */
export function cursorFor(wall: number, logical: number, seq: number, origin: string): string {
  const name = Buffer.from(origin, 'utf8');
  const bytes = Buffer.alloc(21 + name.length);
  bytes.writeUInt8(1, 0);
  bytes.writeBigUInt64BE(BigInt(wall), 1);
  bytes.writeUInt32BE(logical, 9);
  bytes.writeBigUInt64BE(BigInt(seq), 13);
  name.copy(bytes, 21);
  return bytes.toString('base64url');
}
