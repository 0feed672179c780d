import type { ClockStore } from './ClockStore.js';

/** A ClockStore in memory: survives a simulated restart (a new clock over the same store), not a real one. */
export class InMemoryClockStore implements ClockStore {
  #value: number | undefined;
  #writes = 0;

  constructor(initial?: number) {
    this.#value = initial;
  }

  load(): number | undefined {
    return this.#value;
  }

  save(value: number): void {
    this.#value = value;
    this.#writes += 1;
  }

  /** The saved mark. */
  get value(): number | undefined {
    return this.#value;
  }

  /** How many times save() was called: what persistence costs. */
  get writes(): number {
    return this.#writes;
  }
}
