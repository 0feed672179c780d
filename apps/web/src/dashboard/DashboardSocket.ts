// The gateway's /v1/dashboard WebSocket: authenticate with the access token, then a snapshot each
// interval (timeline events ride in the snapshots, or in frames of their own). Reconnects with
// backoff after any drop; a refused token (4401) is refreshed first; 4403 (not an operator) is final.
import type { DashboardEvent, GatewayDashboard } from '@correio/protocol';
import { GatewaySocket } from '../GatewaySocket.js';

export type DashboardStatus = 'connecting' | 'live' | 'offline' | 'forbidden';

export interface DashboardListener {
  /** `retryAt`: when the next attempt starts (offline only). */
  status(status: DashboardStatus, retryAt?: number): void;
  snapshot(snapshot: GatewayDashboard): void;
  events(events: readonly DashboardEvent[]): void;
}

/** The gateway's close code for a user without the operator role. */
export const NOT_OPERATOR = 4403;

/** Whether a frame is a snapshot this page can draw: a hostile or broken frame is ignored, never thrown on. */
function isSnapshot(value: unknown): value is GatewayDashboard {
  const snapshot = value as Partial<GatewayDashboard> | null;
  return typeof snapshot === 'object' && snapshot !== null && typeof snapshot.at === 'number' && typeof snapshot.interval_ms === 'number' && Array.isArray(snapshot.nodes) && Array.isArray(snapshot.services) && (snapshot.events === undefined || Array.isArray(snapshot.events));
}

export class DashboardSocket {
  private readonly socket: GatewaySocket;

  constructor(
    /** The access token; `stale`: the gateway refused the last one, refresh it. */
    token: (stale: boolean) => Promise<string>,
    private readonly listener: DashboardListener,
  ) {
    this.socket = new GatewaySocket('/v1/dashboard', token, {
      connecting: () => this.listener.status('connecting'),
      message: (message) => this.receive(message),
      gone: () => undefined,
      closed: (code) => {
        if (code !== NOT_OPERATOR) return true;
        this.listener.status('forbidden');
        return false;
      },
      retrying: (at) => this.listener.status('offline', at),
    });
  }

  start(): void {
    this.socket.start();
  }

  stop(): void {
    this.socket.stop();
  }

  private receive(frame: object): void {
    const message = frame as { type?: unknown; snapshot?: unknown; events?: unknown };
    if (message.type === 'ready') {
      this.socket.live();
      this.listener.status('live');
    } else if (message.type === 'snapshot' && isSnapshot(message.snapshot)) {
      const events = (message.snapshot.events as DashboardEvent[] | undefined) ?? [];
      if (events.length > 0) this.listener.events(events);
      this.listener.snapshot(message.snapshot);
    } else if (message.type === 'events' && Array.isArray(message.events)) {
      this.listener.events(message.events as DashboardEvent[]);
    }
  }
}
