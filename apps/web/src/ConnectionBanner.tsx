import type { StreamStatus } from './stream.js';

/** Says when live updates stopped and when they resumed (the stream replays what was missed). */
export function ConnectionBanner({ status, reconnected }: { status: StreamStatus; reconnected: boolean }) {
  const text =
    status === 'offline' ? 'Connection lost: reconnecting… Messages sent meanwhile will appear once it is back.' : status === 'live' && reconnected ? 'Reconnected: caught up on missed messages.' : status === 'connecting' ? 'Connecting…' : '';
  return (
    <div class={`banner ${status}`} role="status" aria-live="polite" data-status={status}>
      {text}
    </div>
  );
}
