import { LamportExhaustedError } from '@correio/protocol';
import { backoffDelay, decodePublicationHeader, encodePublicationHeader, errorReading, Fifo, isTopic, LamportStamp, mdp, topic } from '@correio/transport';
import { describe, expect, it } from 'vitest';

describe('topics', () => {
  it('builds "<namespace>/<name>/" and validates', () => {
    expect(topic('chan', 'general')).toBe('chan/general/');
    expect(topic('replica')).toBe('replica/');
    expect(() => topic('chan', 'a/b')).toThrow(RangeError);
    expect(() => topic('')).toThrow(RangeError);
    expect(isTopic('ref/membership/')).toBe(true);
    for (const bad of ['', 'chan', 'chan//', '/chan/', 'ch an/']) expect(isTopic(bad), bad).toBe(false);
  });
});

describe('LamportStamp', () => {
  it('ticks on send and jumps past what it observes', () => {
    const stamp = new LamportStamp('node-1', { now: () => 42 });
    expect(stamp.tick()).toEqual({ lc: 1, ts: 42 });
    stamp.observe({ lc: 10, ts: 0 });
    expect(stamp.tick().lc).toBe(12);
    stamp.observe({ lc: 3, ts: 0 }); // a receive is an event: max(12, 3) + 1
    expect(stamp.tick().lc).toBe(14);
    expect(() => new LamportStamp('has space')).toThrow(RangeError);
  });

  it('follows the protocol bounds: merges a hostile value, request or not, only up to its budget, counts it, and degrades at 2^53 − 1', () => {
    let ms = 0;
    const stamp = new LamportStamp('node-2', { now: () => 7, bounds: { freeJump: 10, maxJump: 1_000, refillPerSecond: 100, now: () => ms } });
    const hostile = { lc: Number.MAX_SAFE_INTEGER - 1, ts: 0 };
    expect(stamp.observe(hostile, 'request')).toBe(true);
    expect(stamp.value).toBe(1_001); // the whole budget, no more
    expect(stamp.observe(hostile)).toBe(true);
    expect(stamp.value).toBe(1_012); // the budget is spent: the free jump only
    expect(stamp.stats).toEqual({ clamped: 2, clampedRequests: 1 });
    ms += 1_000; // refills 100
    expect(stamp.observe({ lc: 1_012 + 100, ts: 0 }, 'request')).toBe(false); // within the bounds again: merged in full
    expect(stamp.value).toBe(1_113);
    expect(stamp.stats).toEqual({ clamped: 2, clampedRequests: 1 });

    const exhausted = new LamportStamp('node-3', { start: Number.MAX_SAFE_INTEGER });
    expect(() => exhausted.tick()).toThrow(LamportExhaustedError);
    expect(errorReading(exhausted)).toMatchObject({ lc: Number.MAX_SAFE_INTEGER });
    exhausted.observe(hostile, 'request');
    expect(exhausted.value).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('backoffDelay', () => {
  it('grows exponentially up to the cap, with bounded jitter', () => {
    const options = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.2 };
    for (const [retry, base] of [[1, 100], [2, 200], [3, 400], [4, 800], [5, 1000], [9, 1000]] as const) {
      for (let i = 0; i < 20; i += 1) {
        const delay = backoffDelay(retry, options);
        expect(delay).toBeGreaterThanOrEqual(base * 0.8);
        expect(delay).toBeLessThanOrEqual(base);
      }
    }
  });
});

describe('Fifo', () => {
  it('keeps order across compaction', () => {
    const fifo = new Fifo<number>();
    const out: number[] = [];
    for (let i = 0; i < 5000; i += 1) {
      fifo.push(i);
      if (i % 3 === 0) out.push(fifo.shift()!);
    }
    out.push(...fifo.drain());
    expect(out).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    expect(fifo.length).toBe(0);
    expect(fifo.shift()).toBeUndefined();
  });
});

describe('publication headers', () => {
  it('round-trip and reject bad fields', () => {
    const bytes = encodePublicationHeader({ p: 'pub-1', s: 7, n: 3 });
    expect(decodePublicationHeader(bytes)).toEqual({ p: 'pub-1', s: 7, n: 3 });
    expect(() => decodePublicationHeader(encodePublicationHeader({ p: '', s: 1, n: 1 }))).toThrow(/p must/);
    expect(() => decodePublicationHeader(encodePublicationHeader({ p: 'x', s: 0, n: 1 }))).toThrow(/s must/);
  });
});

describe('MDP frames', () => {
  const frames = (parts: (string | Buffer | Uint8Array)[]) => parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : Buffer.from(part)));

  it.each(['classic', 'packed'] as const)('parses what it builds (%s)', (framing) => {
    expect(mdp.parseClientMessage(frames(mdp.clientRequest('svc', ['body'], framing)))).toMatchObject({ kind: 'request', service: 'svc', framing });
    expect(mdp.parseClientMessage(frames(mdp.clientReply('final', 'svc', ['b'], framing)))).toMatchObject({ kind: 'final', service: 'svc', framing });
    expect(mdp.parseWorkerMessage(frames(mdp.workerReady('svc', framing)))).toEqual({ kind: 'ready', service: 'svc', framing });
    expect(mdp.parseWorkerMessage(frames(mdp.workerRequest('client', ['b'], framing)))).toMatchObject({ kind: 'request', client: Buffer.from('client'), framing });
    expect(mdp.parseWorkerMessage(frames(mdp.workerReply('partial', 'client', ['b'], framing)))).toMatchObject({ kind: 'partial', framing });
    expect(mdp.parseWorkerMessage(frames(mdp.workerHeartbeat(framing)))).toEqual({ kind: 'heartbeat', framing });
    expect(mdp.parseWorkerMessage(frames(mdp.workerDisconnect(framing)))).toEqual({ kind: 'disconnect', framing });
  });

  it('packs header, command and service or address into one frame (FRAMES.md §1.12)', () => {
    const hex = (message: unknown[]): string[] => frames(message as never).map((frame) => frame.toString('hex'));
    expect(hex(mdp.clientRequest('chat', ['b'], 'packed'))).toEqual(['4d44504330320163686174', '62']);
    expect(hex(mdp.workerReady('chat', 'packed'))).toEqual(['4d44505730320163686174']);
    expect(hex(mdp.workerReply('final', Buffer.from([0x00, 0x6b, 0x8b, 0x45, 0x67]), ['b'], 'packed'))).toEqual(['4d44505730320400' + '6b8b4567', '62']);
    expect(hex(mdp.workerHeartbeat('packed'))).toEqual(['4d445057303205']);
    expect(mdp.parseClientMessage(frames(['MDPC02\x01', 'b']))).toMatchObject({ kind: 'malformed', reason: /service/ });
    expect(mdp.parseWorkerMessage(frames([Buffer.from('4d4450573032054142', 'hex')]))).toMatchObject({ kind: 'malformed', reason: /HEARTBEAT/ });
    expect(mdp.parseWorkerMessage(frames([Buffer.from('4d44505730320201', 'hex')]))).toMatchObject({ kind: 'malformed', reason: /body/ });
  });

  it('names what is wrong with malformed messages', () => {
    expect(mdp.parseClientMessage(frames(['MDPC01', Buffer.of(1), 's', 'b']))).toMatchObject({ kind: 'malformed' });
    expect(mdp.parseClientMessage(frames(['MDPC02', Buffer.of(1), '', 'b']))).toMatchObject({ kind: 'malformed', reason: /service/ });
    expect(mdp.parseWorkerMessage(frames(['MDPW02', Buffer.of(2), 'c', 'x', 'b']))).toMatchObject({ kind: 'malformed', reason: /delimiter/ });
    expect(mdp.parseWorkerMessage(frames(['MDPW02', Buffer.of(1, 2)]))).toMatchObject({ kind: 'malformed' });
    expect(() => mdp.clientRequest('bad\nname', ['b'])).toThrow(RangeError);
  });
});
