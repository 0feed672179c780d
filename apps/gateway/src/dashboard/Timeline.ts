import type { GatewayDashboard } from '@correio/protocol';

export type DashboardEvent = GatewayDashboard['events'][number];

/**
 * The newest timeline events (membership, elections, reachability), numbered in arrival order so
 * each dashboard socket can be sent only what it has not had yet.
 */
export class Timeline {
  readonly #capacity: number;
  readonly #events: { readonly seq: number; readonly event: DashboardEvent }[] = [];
  #next = 1;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** The number the next event will get: a socket that has had everything before it is "at" it. */
  get next(): number {
    return this.#next;
  }

  add(event: DashboardEvent): void {
    this.#events.push({ seq: this.#next, event: { ...event, text: event.text.slice(0, 300) } });
    this.#next += 1;
    if (this.#events.length > this.#capacity) this.#events.shift();
  }

  /** Every kept event with its number, oldest first (a copy). */
  entries(): { readonly seq: number; readonly event: DashboardEvent }[] {
    return [...this.#events];
  }
}
