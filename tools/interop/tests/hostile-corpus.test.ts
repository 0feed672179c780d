// The schema-valid hostile corpus itself (src/hostile): every envelope it makes passes the
// protocol's validators and decoders, for every message type, and its values reach the edges it
// promises — clocks at 0 and 2^53 − 1, strings at their maximum length, arrays at their maximum
// size (or as many of the largest items as fit), untyped payloads nested to the decoder's limit —
// aimed at every service and topic of a topology.
import { DEFAULT_LIMITS, encode, MessageCodec } from '@correio/codec';
import { MESSAGE_TYPES, type AnyEnvelope, type Operation } from '@correio/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HostileCorpus } from '../src/hostile/hostileCorpus.js';

const SEED = 22;
const PER_TYPE = 40;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const corpus = new HostileCorpus({ servers: ['srv-1', 'srv-2'], otherIds: ['ref'], users: ['mallory'], channels: ['mallet'], now: 1_800_000_000_000 });
// One seed per type: with a single seed every type would draw the same envelope fields.
const samples = new Map<string, AnyEnvelope[]>(MESSAGE_TYPES.map((type, index) => [type, fc.sample(corpus.envelope(type), { seed: SEED + index, numRuns: PER_TYPE })]));
const everything = [...samples.values()].flat();

/** How many arrays/maps deep a value nests (the envelope itself is 1). */
function depthOf(value: unknown): number {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return 0;
  return 1 + Math.max(0, ...Object.values(value).map(depthOf));
}

/** Every value found anywhere in `value`, depth first. */
function* leaves(value: unknown): Generator<unknown> {
  if (typeof value === 'object' && value !== null && !(value instanceof Uint8Array)) for (const child of Object.values(value)) yield* leaves(child);
  else yield value;
}

describe('every envelope', () => {
  it.each(MESSAGE_TYPES)('%s: decodes and validates as the protocol codec reads it, within every limit', (type) => {
    const codec = new MessageCodec();
    for (const envelope of samples.get(type)!) {
      const bytes = encode(envelope);
      expect(bytes.byteLength).toBeLessThanOrEqual(DEFAULT_LIMITS.maxBytes);
      expect(codec.decode(bytes)).toEqual(envelope);
      expect(envelope.type).toBe(type);
    }
  });
});

describe('the edges', () => {
  it('carries Lamport clocks and timestamps at 0 and 2^53 − 1, and sequence numbers at 2^53 − 1', () => {
    for (const edge of [0, MAX_SAFE]) {
      expect(everything.some((envelope) => envelope.lc === edge)).toBe(true);
      expect(everything.some((envelope) => envelope.ts === edge)).toBe(true);
    }
    type Op = { op: { seq: number } };
    const ops = [
      ...samples.get('replica.op')!.map((envelope) => envelope.body as Op),
      ...samples.get('replica.apply.request')!.flatMap((envelope) => (envelope.body as { ops: Op[] }).ops),
    ];
    const seqs = ops.map((op) => op.op.seq);
    expect(seqs).toContain(MAX_SAFE);
    expect(seqs).toContain(1);
  });

  it('fills texts to 4000 code points, and replica.apply.request to 100 operations when they fit', () => {
    const texts = samples.get('chat.publish.request')!.map((envelope) => [...(envelope.body as { text: string }).text].length);
    expect(texts).toContain(4000);
    expect(texts).toContain(1);
    const batches = samples.get('replica.apply.request')!.map((envelope) => (envelope.body as { ops: unknown[] }).ops.length);
    expect(Math.max(...batches)).toBeGreaterThanOrEqual(50);
    expect(batches).toContain(1);
  });

  it('nests untyped payloads exactly to the decoder limit (32), never beyond', () => {
    const depths = samples.get('service.call.request')!.map(depthOf);
    expect(depths).toContain(DEFAULT_LIMITS.maxDepth);
    expect(Math.max(...depths)).toBe(DEFAULT_LIMITS.maxDepth);
  });

  it('uses every enum value and every operation kind', () => {
    const codes = new Set(samples.get('error')!.map((envelope) => (envelope.body as { code: string }).code));
    expect(codes.size).toBeGreaterThanOrEqual(10);
    const kinds = new Set(samples.get('replica.op')!.map((envelope) => (envelope.body as { kind: string }).kind));
    expect([...kinds].sort()).toEqual(['channel.create', 'config.set', 'direct', 'login', 'logout', 'password', 'publish', 'register']);
  });

  it('names the real servers, users and channels as well as random ones', () => {
    const values = new Set(everything.flatMap((envelope) => [envelope.from, ...leaves(envelope.body)]));
    for (const known of ['srv-1', 'srv-2', 'ref', 'mallory', 'mallet']) expect(values).toContain(known);
  });
});

describe('aim', () => {
  it('sends requests to every service of the topology and publications on every topic its processes subscribe to', () => {
    const shots = fc.sample(corpus.shot(), { seed: SEED, numRuns: 600 });
    const services = new Set(shots.flatMap((shot) => (shot.kind === 'request' ? [shot.service] : [])));
    const topics = new Set(shots.flatMap((shot) => (shot.kind === 'publish' ? [shot.topic] : [])));
    for (const service of ['chat', 'srv.srv-1', 'srv.srv-2', 'ref', 'mmi.service']) expect(services).toContain(service);
    expect([...services].some((service) => service.startsWith('svc.'))).toBe(true);
    for (const topic of ['replica/', 'election/', 'ref/membership/', 'chan/mallet/']) expect(topics).toContain(topic);
    const seqs = shots.flatMap((shot) => (shot.kind === 'publish' ? [shot.seq] : []));
    expect(seqs).toContain(MAX_SAFE);
  });

  it('has a roll call: every message type once where it belongs, then every service and topic once', () => {
    const shots = corpus.rollCall(SEED);
    const envelopes = shots.flatMap((shot) => (shot.kind === 'request' ? [shot.envelope] : shot.envelopes));
    for (const type of MESSAGE_TYPES) expect(envelopes.map((envelope) => envelope.type)).toContain(type);
    const replicaOp = shots.find((shot) => shot.kind === 'publish' && shot.envelopes[0]!.type === 'replica.op');
    expect(replicaOp).toMatchObject({ topic: 'replica/' });
    const login = shots.find((shot) => shot.kind === 'request' && shot.envelope.type === 'chat.login.request');
    expect(['chat', 'srv.srv-1', 'srv.srv-2']).toContain(login?.kind === 'request' ? login.service : undefined);
    const services = shots.flatMap((shot) => (shot.kind === 'request' ? [shot.service] : []));
    for (const service of ['chat', 'ref', 'mmi.service', 'svc.nobody', 'srv.srv-1', 'srv.srv-2']) expect(services).toContain(service);
    const topics = shots.flatMap((shot) => (shot.kind === 'publish' ? [shot.topic] : []));
    for (const topic of ['replica/', 'election/', 'ref/membership/', 'chan/mallet/']) expect(topics).toContain(topic);
  });

  it('never forges an operation to store under the id of a real server', () => {
    const origins = [...samples.get('replica.op')!.map((envelope) => envelope.body as Operation), ...samples.get('replica.apply.request')!.flatMap((envelope) => (envelope.body as { ops: Operation[] }).ops)].map(
      (op) => op.op.origin,
    );
    expect(origins.some((origin) => origin === 'srv-1' || origin === 'srv-2')).toBe(false);
    expect(origins).toContain('srv-1.forged');
  });

  it('is the same corpus for the same seed', () => {
    const again = fc.sample(corpus.envelope('chat.history.request'), { seed: SEED + MESSAGE_TYPES.indexOf('chat.history.request'), numRuns: PER_TYPE });
    expect(again).toEqual(samples.get('chat.history.request'));
  });
});
