import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LamportClock, MAX_CLOCK_VALUE } from '@correio/clocks';

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

  it('stops at 2^53 − 1 with a RangeError and stays usable for reads', () => {
    const clock = new LamportClock();
    expect(clock.observe(MAX_CLOCK_VALUE - 2)).toBe(MAX_CLOCK_VALUE - 1);
    expect(clock.tick()).toBe(MAX_CLOCK_VALUE);
    expect(() => clock.tick()).toThrow(RangeError);
    expect(() => clock.observe(5)).toThrow(RangeError);
    expect(clock.value).toBe(MAX_CLOCK_VALUE);
  });

  it('rejects received values that are not integers in [0, 2^53 − 1], unchanged', () => {
    const clock = new LamportClock();
    clock.tick();
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, MAX_CLOCK_VALUE + 1, '7' as unknown as number]) {
      expect(() => clock.observe(bad)).toThrow(RangeError);
    }
    expect(() => clock.observe(MAX_CLOCK_VALUE)).toThrow(RangeError); // would need 2^53
    expect(clock.value).toBe(1);
  });
});
