/**
 * Where a LamportClock keeps its high-water mark across restarts. Synchronous on purpose: `save()`
 * must return only once the value is durable (a written and fsynced file, a committed row), because
 * the clock hands out values up to the saved mark as soon as it returns.
 */
export interface ClockStore {
  /** The last saved mark, or undefined when nothing was ever saved. */
  load(): number | undefined;
  /** Durably records `value`, replacing the previous mark. Throwing leaves the clock unchanged. */
  save(value: number): void;
}
