// Membership, election and reachability events, newest first (as EventLog keeps them).
import type { DashboardEvent } from '@correio/protocol';
import { formatTime } from './format.js';

export function Timeline({ events }: { events: readonly DashboardEvent[] }) {
  return (
    <section class="timeline-section" aria-labelledby="timeline-heading">
      <h2 id="timeline-heading">Elections and membership</h2>
      {events.length === 0 ? (
        <p class="empty">No events yet.</p>
      ) : (
        <ol class="timeline">
          {events.map((event, index) => (
            <li key={`${event.at}-${events.length - index}`} class={`event kind-${event.kind}`}>
              <time dateTime={new Date(event.at).toISOString()}>{formatTime(event.at)}</time> <span class="event-kind">{event.kind}</span>
              {event.term !== undefined && <span class="event-term">term {event.term}</span>} <span class="event-text">{event.text}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
