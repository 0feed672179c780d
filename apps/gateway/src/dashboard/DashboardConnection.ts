import { CorreioError } from '@correio/codec';
import type { ChatWhoamiReply } from '@correio/protocol';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { tokenClaims } from '../http/bearer.js';
import { CLOSE } from '../stream/closeCodes.js';
import { GuardedSocket } from '../stream/GuardedSocket.js';
import type { Upstream } from '../Upstream.js';
import type { DashboardFeed } from './DashboardFeed.js';
import type { SnapshotFrame } from './SnapshotFrame.js';

export interface DashboardLimits {
  readonly authTimeoutMs: number;
  /** Bytes queued on a socket before it is closed as too slow. */
  readonly maxBufferedBytes: number;
  readonly messagesPerSecond: number;
  /** How long chat.whoami may take. */
  readonly whoamiTimeoutMs: number;
}

export interface DashboardContext {
  readonly feed: DashboardFeed;
  readonly upstream: Upstream;
  readonly chatService: string;
  /** open: no token needed, none is checked (the servers run --auth open: no accounts, no operators). */
  readonly auth: 'password' | 'open';
  readonly limits: DashboardLimits;
  readonly counters: { closed(code: number): void };
  readonly logger: Logger;
}

/** The role that opens the dashboard (protocol README §1.3). */
const OPERATOR = 'operator';

/**
 * One WebSocket on /v1/dashboard. The first message is `{"type":"auth","token":"…"}`; the gateway
 * asks the servers who the token is for (chat.whoami) and lets only operators in: `ready`, then one
 * `snapshot` per interval, each carrying the timeline events this socket has not had yet. After
 * the auth message a client may only send `{"type":"ping"}`; anything else closes the socket.
 */
export class DashboardConnection {
  readonly #socket: GuardedSocket;
  readonly #context: DashboardContext;
  #authenticating = false;
  #ready = false;
  /** The timeline number of the first event this socket has not had (0: none had yet). */
  #eventsFrom = 0;
  #unlisten: (() => void) | undefined;

  constructor(socket: WebSocket, context: DashboardContext) {
    this.#context = context;
    const { maxBufferedBytes, messagesPerSecond, authTimeoutMs } = context.limits;
    this.#socket = new GuardedSocket(socket, { maxBufferedBytes, messagesPerSecond, counters: context.counters }, { message: (message) => this.#receive(message), closed: () => this.#dispose() });
    this.#socket.later(authTimeoutMs, () => !this.#ready && this.close(CLOSE.unauthenticated, 'no auth message in time'));
  }

  close(code: number, reason: string): void {
    this.#socket.close(code, reason);
  }

  #receive(message: Record<string, unknown>): void {
    if (this.#ready && message['type'] === 'ping') return this.#socket.send({ type: 'pong' });
    if (this.#ready || this.#authenticating) return this.close(CLOSE.badMessage, 'after auth a dashboard sends only {"type":"ping"}');
    if (message['type'] !== 'auth') return this.close(CLOSE.unauthenticated, 'the first message must be {"type":"auth","token":"…"}');
    // Its rejection would end the gateway (an unhandled rejection): a failure ends this socket only.
    this.#authenticate(message['token']).catch(() => this.close(CLOSE.internalError, 'the gateway could not complete the authentication'));
  }

  async #authenticate(token: unknown): Promise<void> {
    this.#authenticating = true;
    // Open mode has no accounts to check, and its logins prove no password, so no token carries the
    // operator role: the dashboard is open to whoever reaches the gateway (the start-up log says so).
    if (this.#context.auth === 'open') return this.#start(typeof token === 'string' ? tokenClaims(token)?.sub : undefined, undefined);
    if (typeof token !== 'string' || token.length === 0 || token.length > 8_192) return this.close(CLOSE.unauthenticated, 'auth needs an access token');
    let who: ChatWhoamiReply;
    try {
      who = (await this.#context.upstream.call(this.#context.chatService, 'chat.whoami.request', {}, { auth: token, signal: AbortSignal.timeout(this.#context.limits.whoamiTimeoutMs) })) as ChatWhoamiReply;
    } catch (error) {
      const failure = CorreioError.from(error);
      // 1013 "try again later": the servers could not be asked; the token may well be good.
      return this.close(failure.code === 'UNAUTHENTICATED' || !failure.retryable ? CLOSE.unauthenticated : 1013, failure.message.slice(0, 100));
    }
    if (this.#socket.closed) return;
    // The generated type spells `roles` (maxItems 16) as a union of tuples; read it as the list it is.
    if (!(who.roles as readonly string[]).includes(OPERATOR)) {
      this.#context.logger.info({ user: who.user }, 'dashboard refused: not an operator');
      return this.close(CLOSE.forbidden, 'operators only');
    }
    this.#start(who.user, who.expires_at);
  }

  #start(user: string | undefined, expiresAt: number | undefined): void {
    if (this.#socket.closed) return;
    this.#ready = true;
    this.#authenticating = false;
    if (expiresAt !== undefined) this.#socket.later(expiresAt - Date.now(), () => this.close(CLOSE.unauthenticated, 'the token expired: refresh and reconnect'));
    this.#socket.send({ type: 'ready', user: user ?? null, ...(expiresAt !== undefined ? { expires_at: expiresAt } : {}) });
    const { feed } = this.#context;
    // A feed already running has a snapshot of less than an interval ago: show it now.
    if (feed.latest) this.#deliver(feed.latest);
    this.#unlisten = feed.listen((frame) => this.#deliver(frame));
  }

  #deliver(frame: SnapshotFrame): void {
    this.#socket.send(frame.text(this.#eventsFrom));
    this.#eventsFrom = frame.next;
  }

  #dispose(): void {
    this.#unlisten?.();
    this.#unlisten = undefined;
  }
}
