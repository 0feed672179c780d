import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { InMemoryClockStore, LamportClock, MAX_CLOCK_VALUE, type ClockStore } from '@correio/clocks';

type Op = { kind: 'tick' } | { kind: 'observe'; value: number } | { kind: 'crash' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 20, arbitrary: fc.constant({ kind: 'tick' as const }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('observe' as const), value: fc.integer({ min: 0, max: 50_000 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'crash' as const }) },
);

describe('LamportClock persistence', () => {
  it('never reissues a value after a crash at any tick', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.array(op, { maxLength: 400 }), (reserve, ops) => {
        // The store holds only what save() wrote; a crash loses everything else (the clock object).
        const store = new InMemoryClockStore();
        let clock = new LamportClock({ store, reserve });
        let highestIssued = 0; // across every incarnation
        let restarted = false;
        for (const step of ops) {
          if (step.kind === 'crash') {
            clock = new LamportClock({ store, reserve });
            restarted = true;
            continue;
          }
          const value = step.kind === 'tick' ? clock.tick() : clock.observe(step.value);
          expect(value).toBeGreaterThan(highestIssued);
          // A restart skips at most one block of values.
          if (restarted && step.kind === 'tick') expect(value - highestIssued).toBeLessThanOrEqual(reserve);
          restarted = false;
          expect(value).toBeLessThanOrEqual(store.value!); // write-ahead: every issued value is covered
          highestIssued = value;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('writes once per block of reserved values, not once per tick', () => {
    const store = new InMemoryClockStore();
    const clock = new LamportClock({ store, reserve: 1000 });
    for (let i = 0; i < 2_500; i++) clock.tick();
    expect(store.writes).toBe(3); // marks 1000, 2000, 3000
    expect(store.value).toBe(3_000);
    clock.observe(10_000); // a jump past the mark costs one write
    expect(store.writes).toBe(4);
    expect(store.value).toBe(11_000);

    const restarted = new LamportClock({ store, reserve: 1000 });
    expect(restarted.value).toBe(11_000);
    expect(restarted.tick()).toBe(11_001);
    expect(store.writes).toBe(5);
  });

  it('issues nothing when the store fails, and resumes once it works again', () => {
    let failing = false;
    const inner = new InMemoryClockStore();
    const store: ClockStore = {
      load: () => inner.load(),
      save: (value) => {
        if (failing) throw new Error('disk full');
        inner.save(value);
      },
    };
    const clock = new LamportClock({ store, reserve: 3 });
    expect([clock.tick(), clock.tick(), clock.tick()]).toEqual([1, 2, 3]);
    failing = true;
    expect(() => clock.tick()).toThrow('disk full');
    expect(() => clock.observe(100)).toThrow('disk full');
    expect(clock.value).toBe(3);
    failing = false;
    expect(clock.tick()).toBe(4);
    expect(inner.value).toBe(6);
  });

  it('starts from 0 on an empty store, refuses a corrupt one, and caps its mark at 2^53 − 1', () => {
    expect(new LamportClock({ store: new InMemoryClockStore() }).value).toBe(0);
    expect(() => new LamportClock({ store: new InMemoryClockStore(-1) })).toThrow(RangeError);
    expect(() => new LamportClock({ store: new InMemoryClockStore(1.5) })).toThrow(RangeError);
    expect(() => new LamportClock({ reserve: 0 })).toThrow(RangeError);

    const store = new InMemoryClockStore(MAX_CLOCK_VALUE - 10);
    const clock = new LamportClock({ store });
    expect(clock.tick()).toBe(MAX_CLOCK_VALUE - 9);
    expect(store.value).toBe(MAX_CLOCK_VALUE);
  });
});
