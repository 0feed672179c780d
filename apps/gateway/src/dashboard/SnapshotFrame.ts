import type { GatewayDashboard } from '@correio/protocol';
import type { DashboardEvent } from './Timeline.js';

export type SnapshotBody = Omit<GatewayDashboard, 'events'>;

/**
 * One interval's snapshot as the text frame `{"type":"snapshot","snapshot":{…}}`, serialised once
 * for every dashboard socket: sockets differ only in the events they have not had yet, and the few
 * distinct event tails are serialised once each, then spliced in.
 */
export class SnapshotFrame {
  readonly snapshot: SnapshotBody;
  /** The timeline number of the first event this frame does not carry: a socket sent it is "at" this. */
  readonly next: number;
  readonly #events: readonly { readonly seq: number; readonly event: DashboardEvent }[];
  /** The frame text without `,"events":[…]}}`. */
  readonly #head: string;
  readonly #texts = new Map<number, string>();

  constructor(snapshot: SnapshotBody, events: readonly { readonly seq: number; readonly event: DashboardEvent }[], next: number) {
    this.snapshot = snapshot;
    this.#events = events;
    this.next = next;
    this.#head = JSON.stringify({ type: 'snapshot', snapshot }).slice(0, -2);
  }

  /** The frame for a socket that has had every event numbered below `from` (0: a new socket, which gets all kept). */
  text(from: number): string {
    let text = this.#texts.get(from);
    if (text === undefined) {
      const events = this.#events.filter((entry) => entry.seq >= from).map((entry) => entry.event);
      text = `${this.#head},"events":${JSON.stringify(events)}}}`;
      this.#texts.set(from, text);
    }
    return text;
  }
}
