// The gateway's /v1/dashboard WebSocket: authenticate with the access token, then a snapshot each
// interval (timeline events ride in the snapshots, or in frames of their own). Reconnects with
// backoff after any drop; a refused token (4401) is refreshed first; 4403 (not an operator) is final.
import type { DashboardEvent, GatewayDashboard } from '@correio/protocol';
import { gatewaySocketUrl, reconnectDelay } from '../backoff.js';

export type DashboardStatus = 'connecting' | 'live' | 'offline' | 'forbidden';

export interface DashboardListener {
  /** `retryAt`: when the next attempt starts (offline only). */
  status(status: DashboardStatus, retryAt?: number): void;
  snapshot(snapshot: GatewayDashboard): void;
  events(events: readonly DashboardEvent[]): void;
}

/** The gateway's close code for a refused or expired token. */
const UNAUTHENTICATED = 4401;
/** The gateway's close code for a user without the operator role. */
export const NOT_OPERATOR = 4403;

/** Whether a frame is a snapshot this page can draw: a hostile or broken frame is ignored, never thrown on. */
function isSnapshot(value: unknown): value is GatewayDashboard {
  const snapshot = value as Partial<GatewayDashboard> | null;
  return typeof snapshot === 'object' && snapshot !== null && typeof snapshot.at === 'number' && typeof snapshot.interval_ms === 'number' && Array.isArray(snapshot.nodes) && Array.isArray(snapshot.services) && (snapshot.events === undefined || Array.isArray(snapshot.events));
}

export class DashboardSocket {
  private socket: WebSocket | undefined;
  private attempts = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private refused = false;

  constructor(
    /** The access token; `stale`: the gateway refused the last one, refresh it. */
    private readonly token: (stale: boolean) => Promise<string>,
    private readonly listener: DashboardListener,
  ) {
    addEventListener('offline', this.goOffline);
    addEventListener('online', this.goOnline);
  }

  start(): void {
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    removeEventListener('offline', this.goOffline);
    removeEventListener('online', this.goOnline);
    this.drop();
  }

  private readonly goOffline = () => {
    this.drop();
    this.retry();
  };

  private readonly goOnline = () => {
    clearTimeout(this.retryTimer);
    void this.connect();
  };

  private async connect(): Promise<void> {
    if (this.stopped || this.socket) return;
    this.listener.status('connecting');
    let token: string;
    try {
      token = await this.token(this.refused);
      this.refused = false;
    } catch {
      this.retry();
      return;
    }
    if (this.stopped || this.socket) return;
    const socket = new WebSocket(gatewaySocketUrl('/v1/dashboard'));
    this.socket = socket;
    socket.onopen = () => socket.send(JSON.stringify({ type: 'auth', token }));
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      if (event.code === NOT_OPERATOR) {
        this.stopped = true;
        this.listener.status('forbidden');
        return;
      }
      this.refused = event.code === UNAUTHENTICATED;
      this.retry();
    };
  }

  private receive(data: unknown): void {
    if (typeof data !== 'string') return;
    let message: { type?: unknown; snapshot?: unknown; events?: unknown };
    try {
      message = JSON.parse(data) as typeof message;
    } catch {
      return;
    }
    if (message.type === 'ready') {
      this.attempts = 0;
      this.listener.status('live');
    } else if (message.type === 'snapshot' && isSnapshot(message.snapshot)) {
      const events = (message.snapshot.events as DashboardEvent[] | undefined) ?? [];
      if (events.length > 0) this.listener.events(events);
      this.listener.snapshot(message.snapshot);
    } else if (message.type === 'events' && Array.isArray(message.events)) {
      this.listener.events(message.events as DashboardEvent[]);
    }
  }

  private drop(): void {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return;
    socket.onmessage = null;
    socket.onclose = null;
    socket.close();
  }

  private retry(): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    const delay = reconnectDelay(this.attempts++);
    this.listener.status('offline', Date.now() + delay);
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }
}
