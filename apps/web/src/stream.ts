// One WebSocket to the gateway's /v1/stream for all channels and direct messages. After any close
// (or the browser going offline) it reconnects and resumes: each channel's subscribe, and the auth for
// direct messages, carry the last op seen from each origin, so the gateway replays what was missed.
import type { ChatDirect, ChatPublication, OpId } from '@correio/protocol';
import { GatewaySocket } from './GatewaySocket.js';

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
  private readonly socket: GatewaySocket;
  private readonly channels = new Map<string, OriginMarks>();
  private readonly directMarks = new OriginMarks();
  private wasLive = false;
  /** The gateway answered the auth on the current socket. */
  private ready = false;

  constructor(
    /** The access token; `stale`: the gateway refused the last one (4401), refresh it. */
    token: (stale: boolean) => Promise<string>,
    private readonly events: StreamEvents,
  ) {
    this.socket = new GatewaySocket('/v1/stream', token, {
      // Direct messages resume from the auth message; channels from their subscribes.
      auth: () => {
        const after = this.directMarks.after;
        return after ? { after } : {};
      },
      connecting: () => this.events.status(this.wasLive ? 'offline' : 'connecting', false),
      message: (message) => this.receive(message),
      gone: () => {
        this.ready = false;
      },
      closed: () => {
        this.events.status('offline', false);
        return true;
      },
    });
  }

  start(): void {
    this.socket.start();
  }

  stop(): void {
    this.socket.stop();
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

  private receive(frame: object): void {
    const message = frame as { type?: unknown; publication?: ChatPublication; message?: ChatDirect; channel?: string };
    if (message.type === 'ready') {
      // Subscribes go after ready: the gateway holds only a few messages sent before it.
      this.ready = true;
      for (const [channel, marks] of this.channels) {
        const after = marks.after;
        this.send({ type: 'subscribe', channel, ...(after ? { after } : {}) });
      }
      const reconnected = this.wasLive;
      this.wasLive = true;
      this.socket.live();
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
    if (this.ready) this.socket.send(message);
  }
}
