// One WebSocket to the gateway's /v1/stream for all channels and direct messages. After any close
// (or the browser going offline) it reconnects and resumes: each channel's subscribe, and the auth for
// direct messages, carry the last op seen from each origin, so the gateway replays what was missed.
import type { ChatDirect, ChatPublication, OpId } from '@correio/protocol';
import { gatewaySocketUrl, reconnectDelay } from './backoff.js';

export type StreamStatus = 'connecting' | 'live' | 'offline';

export interface StreamEvents {
  publication(publication: ChatPublication): void;
  direct(message: ChatDirect): void;
  status(status: StreamStatus, reconnected: boolean): void;
  /** The gateway confirmed a subscription: live publications flow from here on. */
  subscribed(channel: string): void;
}

/** The gateway's limit of `after` ops per subscribe. */
const MAX_AFTER = 64;
/** Channels followed live at most: below the gateway's per-socket limits (channels, messages per second). */
const MAX_CHANNELS = 40;
/** The gateway's close code for a refused or expired token. */
const UNAUTHENTICATED = 4401;

/** The last op seen from each origin, the stream's resume point. */
class OriginMarks {
  private readonly marks = new Map<string, OpId>();

  see(op: OpId): void {
    const known = this.marks.get(op.origin);
    if (!known || op.seq > known.seq) this.marks.set(op.origin, { origin: op.origin, seq: op.seq });
  }

  get after(): OpId[] | undefined {
    return this.marks.size === 0 ? undefined : [...this.marks.values()].slice(0, MAX_AFTER);
  }
}

export class ChatStream {
  private socket: WebSocket | undefined;
  private readonly channels = new Map<string, OriginMarks>();
  private readonly directMarks = new OriginMarks();
  private attempts = 0;
  private wasLive = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  /** The last socket was closed for its token (expired, or revoked). */
  private refused = false;
  /** The gateway answered the auth on the current socket. */
  private ready = false;

  constructor(
    /** The access token; `stale`: the gateway refused the last one (4401), refresh it. */
    private readonly token: (stale: boolean) => Promise<string>,
    private readonly events: StreamEvents,
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

  /** Follows a channel; ops already shown (from history) count as seen. */
  subscribe(channel: string): void {
    if (this.channels.has(channel) || this.channels.size >= MAX_CHANNELS) return;
    this.channels.set(channel, new OriginMarks());
    this.send({ type: 'subscribe', channel });
  }

  /** Marks an op read over HTTP as seen, so a resume does not replay it. */
  seen(channel: string, op: OpId): void {
    this.channels.get(channel)?.see(op);
  }

  /** Marks a direct message read over HTTP (the inbox) as seen. */
  seenDirect(op: OpId): void {
    this.directMarks.see(op);
  }

  private readonly goOffline = () => {
    this.drop();
    this.events.status('offline', false);
  };

  private readonly goOnline = () => {
    clearTimeout(this.retryTimer);
    void this.connect();
  };

  private async connect(): Promise<void> {
    if (this.stopped || this.socket) return;
    this.events.status(this.wasLive ? 'offline' : 'connecting', false);
    let token: string;
    try {
      token = await this.token(this.refused);
      this.refused = false;
    } catch {
      this.retry();
      return;
    }
    if (this.stopped || this.socket) return;
    const socket = new WebSocket(gatewaySocketUrl('/v1/stream'));
    this.socket = socket;
    socket.onopen = () => {
      const after = this.directMarks.after;
      socket.send(JSON.stringify({ type: 'auth', token, ...(after ? { after } : {}) }));
    };
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.refused = event.code === UNAUTHENTICATED;
      this.socket = undefined;
      this.ready = false;
      this.events.status('offline', false);
      this.retry();
    };
  }

  private receive(data: unknown): void {
    if (typeof data !== 'string') return;
    let message: { type?: string; publication?: ChatPublication; message?: ChatDirect; channel?: string };
    try {
      message = JSON.parse(data) as typeof message;
    } catch {
      return;
    }
    if (message.type === 'ready') {
      // Subscribes go after ready: the gateway holds only a few messages sent before it.
      this.ready = true;
      for (const [channel, marks] of this.channels) {
        const after = marks.after;
        this.send({ type: 'subscribe', channel, ...(after ? { after } : {}) });
      }
      const reconnected = this.wasLive;
      this.wasLive = true;
      this.attempts = 0;
      this.events.status('live', reconnected);
    } else if (message.type === 'publication' && message.publication) {
      this.channels.get(message.publication.channel)?.see(message.publication.op);
      this.events.publication(message.publication);
    } else if (message.type === 'subscribed' && message.channel) {
      this.events.subscribed(message.channel);
    } else if (message.type === 'direct' && message.message) {
      this.directMarks.see(message.message.op);
      this.events.direct(message.message);
    }
  }

  private send(message: object): void {
    if (this.ready && this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  /** Forgets the socket at once: nothing it still delivers counts, so the resume point stays exact. */
  private drop(): void {
    const socket = this.socket;
    this.socket = undefined;
    this.ready = false;
    if (!socket) return;
    socket.onmessage = null;
    socket.onclose = null;
    socket.close();
  }

  private retry(): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    const delay = reconnectDelay(this.attempts++);
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }
}
