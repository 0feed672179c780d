// The socket's state in words: connecting, reconnecting (with the countdown's end), or why it stopped.
import { formatTime } from './format.js';
import type { DashboardStatus } from './DashboardSocket.js';

export function DashboardBanner({ status, retryAt, lastSnapshot }: { status: DashboardStatus; retryAt: number | undefined; lastSnapshot: number | undefined }) {
  if (status === 'forbidden') {
    return (
      <div class="banner forbidden" role="alert" data-status={status}>
        This account is not an operator; start the servers with <code>--operators &lt;you&gt;</code>, then log in again.
      </div>
    );
  }
  const text =
    status === 'offline'
      ? `Connection to the gateway lost: reconnecting${retryAt ? ` at ${formatTime(retryAt)}` : ''}…${lastSnapshot ? ` Showing the snapshot of ${formatTime(lastSnapshot)}.` : ''}`
      : status === 'connecting'
        ? 'Connecting…'
        : '';
  return (
    <div class={`banner ${status}`} role="status" aria-live="polite" data-status={status}>
      {text}
    </div>
  );
}
