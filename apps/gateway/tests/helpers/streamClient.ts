import { waitFor } from '@correio/testing';
import WebSocket from 'ws';
import type { Json } from './cluster.js';

/** A WebSocket client of /v1/stream that keeps every message it receives, in order. */
export class StreamClient {
  readonly messages: Json[] = [];
  readonly socket: WebSocket;
  closed: { code: number; reason: string } | undefined;

  private constructor(url: string) {
    this.socket = new WebSocket(url);
    this.socket.on('message', (data) => this.messages.push(JSON.parse(data.toString())));
    this.socket.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
    this.socket.on('error', () => undefined);
  }

  /** Connects and authenticates as `user` (open mode) or with `token`. */
  static async open(url: string, auth: { user?: string; token?: string }): Promise<StreamClient> {
    const client = new StreamClient(url);
    await new Promise<void>((resolve, reject) => {
      client.socket.once('open', () => resolve());
      client.socket.once('error', reject);
    });
    client.send({ type: 'auth', ...auth });
    await waitFor(() => client.closed !== undefined || client.messages.some((message) => message.type === 'ready'), 'ready or a close', 15_000);
    if (client.closed) throw new Error(`the stream was closed with ${client.closed.code}: ${client.closed.reason}`);
    return client;
  }

  send(message: Json): void {
    this.socket.send(JSON.stringify(message));
  }

  /**
   * Subscribes and resolves with the `subscribed` message (sent after any history replay), or an
   * `error` one. `after`: the last op id seen, or the last one seen from each origin.
   */
  async subscribe(channel: string, after?: OpId | readonly OpId[]): Promise<Json> {
    const from = this.messages.length;
    this.send({ type: 'subscribe', channel, ...(after ? { after } : {}) });
    return this.next((message) => (message.type === 'subscribed' || message.type === 'error') && message.channel === channel, from);
  }

  /** The publications received on `channel`, in order. */
  publications(channel: string): Json[] {
    return this.messages.filter((message) => message.type === 'publication' && message.channel === channel).map((message) => message.publication);
  }

  /** The first message from index `from` on that matches. */
  next(match: (message: Json) => boolean, from = 0, timeoutMs = 15_000): Promise<Json> {
    return waitFor(() => this.messages.slice(from).find(match), 'a stream message', timeoutMs);
  }

  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}

/** An operation id, as publications carry it. */
export interface OpId {
  readonly origin: string;
  readonly seq: number;
}

/** The key of an op id, for sets. */
export function opKey(op: OpId): string {
  return `${op.origin}/${op.seq}`;
}
