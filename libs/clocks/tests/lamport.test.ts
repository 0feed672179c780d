import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { InMemoryClockStore, LAMPORT_ROOM, LamportClock, LamportExhaustedError, MAX_CLOCK_VALUE, MAX_MERGED_LAMPORT } from '@correio/clocks';

/** A step of a message history: a process sends, delivers its oldest pending message, or records a local event. */
type Step = { kind: 'send'; from: number; to: number } | { kind: 'deliver'; at: number; pick: number } | { kind: 'local'; at: number };

function historyArbitrary(processes: number): fc.Arbitrary<Step[]> {
  const index = fc.integer({ min: 0, max: processes - 1 });
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ kind: fc.constant('send' as const), from: index, to: index }),
    fc.record({ kind: fc.constant('deliver' as const), at: index, pick: fc.nat() }),
    fc.record({ kind: fc.constant('local' as const), at: index }),
  );
  return fc.array(step, { maxLength: 300 });
}

describe('LamportClock', () => {
  it('ticks on send and merges on receive', () => {
    const clock = new LamportClock();
    expect(clock.value).toBe(0);
    expect(clock.tick()).toBe(1);
    expect(clock.tick()).toBe(2);
    expect(clock.observe(10)).toBe(11);
    expect(clock.observe(3)).toBe(12);
    expect(clock.value).toBe(12);
  });

  it('orders every send before its receive, among 3 to 5 processes, for any history', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 5 }).chain((n) => fc.tuple(fc.constant(n), historyArbitrary(n))),
        ([n, history]) => {
          const clocks = Array.from({ length: n }, () => new LamportClock());
          const inboxes: number[][] = Array.from({ length: n }, () => []); // stamped values in flight, delivered in any order
          const issued: number[][] = Array.from({ length: n }, () => []);
          const record = (process: number, value: number) => issued[process]!.push(value);
          for (const step of history) {
            if (step.kind === 'send') {
              const stamp = clocks[step.from]!.tick();
              record(step.from, stamp);
              inboxes[step.to]!.push(stamp);
            } else if (step.kind === 'deliver') {
              const inbox = inboxes[step.at]!;
              if (inbox.length === 0) continue;
              const [sent] = inbox.splice(step.pick % inbox.length, 1);
              const received = clocks[step.at]!.observe(sent!);
              record(step.at, received);
              expect(received).toBeGreaterThan(sent!); // L(send) < L(recv)
            } else record(step.at, clocks[step.at]!.tick());
          }
          // Within a process, values strictly increase (program order is part of happened-before).
          for (const values of issued) for (let i = 1; i < values.length; i++) expect(values[i]!).toBeGreaterThan(values[i - 1]!);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('degrades at 2^53 − 1: tick throws a LamportExhaustedError, observe stays put, reads still work', () => {
    const clock = new LamportClock({ store: new InMemoryClockStore(MAX_CLOCK_VALUE - 2) });
    expect(clock.tick()).toBe(MAX_CLOCK_VALUE - 1);
    expect(clock.tick()).toBe(MAX_CLOCK_VALUE);
    expect(() => clock.tick()).toThrow(LamportExhaustedError);
    expect(clock.observe(5)).toBe(MAX_CLOCK_VALUE);
    expect(clock.observe(MAX_CLOCK_VALUE)).toBe(MAX_CLOCK_VALUE);
    expect(clock.value).toBe(MAX_CLOCK_VALUE);
  });

  it('rejects received values that are not integers in [0, 2^53 − 1], unchanged', () => {
    const clock = new LamportClock();
    clock.tick();
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, MAX_CLOCK_VALUE + 1, '7' as unknown as number]) {
      expect(() => clock.observe(bad)).toThrow(RangeError);
    }
    expect(clock.value).toBe(1);
  });
});

describe('LamportClock under hostile input (protocol/ENCODING.md §4.1)', () => {
  const bounds = (now: () => number) => ({ freeJump: 100, maxJump: 10_000, refillPerSecond: 1_000, now });

  it('merges a value within the free jump in full, and a value near 2^53 − 1 only up to its budget', () => {
    let ms = 0;
    const clock = new LamportClock({ bounds: bounds(() => ms) });
    expect(clock.observe(100)).toBe(101); // free
    expect(clock.observe(MAX_CLOCK_VALUE - 1)).toBe(101 + 10_000 + 1); // the whole budget, no more
    expect(clock.stats).toEqual({ clamped: 1, clampedRequests: 0 });
    // The budget is spent: only free jumps until it refills — for a request as for anything else.
    expect(clock.observe(MAX_CLOCK_VALUE - 1, 'request')).toBe(10_102 + 100 + 1);
    expect(clock.stats).toEqual({ clamped: 2, clampedRequests: 1 });
    ms += 2_000; // refills 2,000
    expect(clock.observe(MAX_CLOCK_VALUE - 1, 'request')).toBe(10_203 + 2_000 + 1);
    expect(clock.stats).toEqual({ clamped: 3, clampedRequests: 2 });
    expect(clock.observe(clock.value + 50, 'request')).toBe(12_204 + 50 + 1); // within the bounds: merged in full, not counted
    expect(clock.stats).toEqual({ clamped: 3, clampedRequests: 2 });
  });

  it('cannot be exhausted by any sequence of received values: at most the free jump per message plus the refill per second', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: MAX_CLOCK_VALUE }), fc.integer({ min: 0, max: 5_000 })), { maxLength: 300 }), (inputs) => {
        let ms = 0;
        const clock = new LamportClock({ bounds: bounds(() => ms) });
        for (const [received, wait] of inputs) {
          ms += wait;
          const before = clock.value;
          const after = clock.observe(received);
          expect(after).toBeGreaterThan(before);
          if (received <= before + 100) expect(after).toBe(Math.max(before, received) + 1); // Lamport's rule within the bounds
        }
        expect(clock.value).toBeLessThanOrEqual(10_000 + inputs.length * 101 + ms); // maxJump + (free + 1) per message + refill
        expect(() => clock.tick()).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });

  it('never merges above 2^53 − 1 − 2^32, so a persisted mark always leaves room to tick', () => {
    const store = new InMemoryClockStore(MAX_MERGED_LAMPORT - 5);
    const clock = new LamportClock({ store, reserve: 10 });
    expect(clock.observe(MAX_CLOCK_VALUE)).toBe(MAX_MERGED_LAMPORT + 1);
    expect(clock.observe(MAX_CLOCK_VALUE)).toBe(MAX_MERGED_LAMPORT + 2); // a receive event still ticks
    expect(clock.observe(MAX_CLOCK_VALUE, 'request')).toBe(MAX_MERGED_LAMPORT + 3);
    expect(clock.stats).toEqual({ clamped: 3, clampedRequests: 1 });
    expect(store.value).toBeLessThanOrEqual(MAX_MERGED_LAMPORT + 13);
    expect(MAX_CLOCK_VALUE - store.value!).toBeGreaterThanOrEqual(LAMPORT_ROOM - 13);
  });
});
