// The timeline's events, bounded, each once: a reconnected socket's first snapshot repeats the
// gateway's recent events, which must not show twice.
import type { DashboardEvent } from '@correio/protocol';

const MAX_EVENTS = 200;

const keyOf = (event: DashboardEvent) => `${event.at}|${event.kind}|${event.node ?? ''}|${event.state ?? ''}|${event.term ?? ''}|${event.text}`;

export class EventLog {
  private events: DashboardEvent[] = [];
  private readonly keys = new Set<string>();

  /** Adds new events (oldest first); true when any was new. */
  add(events: readonly DashboardEvent[]): boolean {
    const fresh = events.filter((event) => {
      const key = keyOf(event);
      if (this.keys.has(key)) return false;
      this.keys.add(key);
      return true;
    });
    if (fresh.length === 0) return false;
    this.events = [...this.events, ...fresh].sort((a, b) => a.at - b.at);
    for (const dropped of this.events.splice(0, Math.max(0, this.events.length - MAX_EVENTS))) this.keys.delete(keyOf(dropped));
    return true;
  }

  /** Oldest first. */
  get all(): readonly DashboardEvent[] {
    return this.events;
  }
}
