// One authenticated WebSocket to the gateway that comes back by itself: it sends the access token
// first ({type: 'auth', token}), hands on every JSON object the gateway sends, and after any close
// (or the browser going offline) reconnects with backoff, refreshing the token first when the
// gateway refused it (4401). The chat's stream and the dashboard are both made of one.
import { gatewaySocketUrl, reconnectDelay } from './backoff.js';

/** The gateway's close code for a refused or expired token. */
const UNAUTHENTICATED = 4401;

export interface GatewaySocketHandlers {
  /** Fields the auth message carries besides the token (a resume point). */
  auth?(): object;
  /** An attempt to connect begins. */
  connecting(): void;
  /** A JSON object from the gateway. */
  message(message: object): void;
  /** The socket is gone (closed by the gateway, or dropped here): nothing it still delivers counts. */
  gone(): void;
  /** The gateway closed it with `code`; false: do not reconnect (a final refusal). */
  closed(code: number): boolean;
  /** The next attempt starts at `at` (ms since the epoch). */
  retrying?(at: number): void;
}

export class GatewaySocket {
  private socket: WebSocket | undefined;
  private attempts = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  /** The last socket was closed for its token (expired, or revoked). */
  private refused = false;

  constructor(
    private readonly path: string,
    /** The access token; `stale`: the gateway refused the last one, refresh it. */
    private readonly token: (stale: boolean) => Promise<string>,
    private readonly handlers: GatewaySocketHandlers,
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

  /** The gateway accepted the socket: the next drop starts the backoff afresh. */
  live(): void {
    this.attempts = 0;
  }

  /** Sends when the socket is open; dropped otherwise (the next connection starts over). */
  send(message: object): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
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
    this.handlers.connecting();
    let token: string;
    try {
      token = await this.token(this.refused);
      this.refused = false;
    } catch {
      this.retry();
      return;
    }
    if (this.stopped || this.socket) return;
    const socket = new WebSocket(gatewaySocketUrl(this.path));
    this.socket = socket;
    socket.onopen = () => socket.send(JSON.stringify({ type: 'auth', token, ...this.handlers.auth?.() }));
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.handlers.gone();
      if (!this.handlers.closed(event.code)) {
        this.stop();
        return;
      }
      this.refused = event.code === UNAUTHENTICATED;
      this.retry();
    };
  }

  /** Anything but a JSON object is ignored, never thrown on. */
  private receive(data: unknown): void {
    if (typeof data !== 'string') return;
    let message: unknown;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (typeof message === 'object' && message !== null && !Array.isArray(message)) this.handlers.message(message);
  }

  /** Forgets the socket at once: nothing it still delivers counts. */
  private drop(): void {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return;
    this.handlers.gone();
    socket.onmessage = null;
    socket.onclose = null;
    socket.close();
  }

  private retry(): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    const delay = reconnectDelay(this.attempts++);
    this.handlers.retrying?.(Date.now() + delay);
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }
}
