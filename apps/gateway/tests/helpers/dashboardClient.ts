import { BODY_VALIDATORS } from '@correio/protocol';
import { waitFor } from '@correio/testing';
import WebSocket from 'ws';
import type { Json } from './cluster.js';

/**
 * A WebSocket client of /v1/dashboard that keeps every frame it receives, checks each snapshot
 * against the protocol's gateway.dashboard schema as it arrives, and notes how the socket closed.
 */
export class DashboardClient {
  readonly messages: Json[] = [];
  /** Snapshots that failed the schema, with the validator's errors. */
  readonly invalid: Json[] = [];
  readonly socket: WebSocket;
  closed: { code: number; reason: string } | undefined;

  private constructor(url: string) {
    this.socket = new WebSocket(url);
    this.socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as Json;
      this.messages.push(message);
      if (message.type !== 'snapshot') return;
      const validate = BODY_VALIDATORS['gateway.dashboard'];
      if (!validate(message.snapshot)) this.invalid.push({ snapshot: message.snapshot, errors: validate.errors });
    });
    this.socket.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
    this.socket.on('error', () => undefined);
  }

  /** Opens a socket on `gatewayUrl`'s /v1/dashboard; sends nothing yet. */
  static async connect(gatewayUrl: string): Promise<DashboardClient> {
    const client = new DashboardClient(`${gatewayUrl.replace(/^http/, 'ws')}/v1/dashboard`);
    await new Promise<void>((resolve, reject) => {
      client.socket.once('open', () => resolve());
      client.socket.once('error', reject);
    });
    return client;
  }

  /** Connects and sends `{"type":"auth", ...auth}`; resolves once `ready` arrives or the socket closes. */
  static async open(gatewayUrl: string, auth: { token?: string } = {}): Promise<DashboardClient> {
    const client = await DashboardClient.connect(gatewayUrl);
    client.send({ type: 'auth', ...auth });
    await waitFor(() => client.closed !== undefined || client.ready !== undefined, 'ready or a close', 20_000);
    return client;
  }

  get ready(): Json | undefined {
    return this.messages.find((message) => message.type === 'ready');
  }

  /** The snapshots received so far, from index `from` of them on. */
  snapshots(from = 0): Json[] {
    return this.messages.filter((message) => message.type === 'snapshot').slice(from).map((message) => message.snapshot);
  }

  /** Every timeline event received so far. */
  events(): Json[] {
    return this.snapshots().flatMap((snapshot) => snapshot.events);
  }

  /** The first snapshot from index `from` on that `match` accepts. */
  nextSnapshot(match: (snapshot: Json) => boolean, timeoutMs: number, from = 0): Promise<Json> {
    return waitFor(() => this.snapshots(from).find(match), 'a matching dashboard snapshot', timeoutMs);
  }

  send(message: Json): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  whenClosed(timeoutMs = 20_000): Promise<{ code: number; reason: string }> {
    return waitFor(() => this.closed, 'the dashboard socket to close', timeoutMs);
  }

  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}
