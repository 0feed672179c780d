import type { WebSocket } from 'ws';
import { CLOSE } from './closeCodes.js';

export interface GuardedSocketOptions {
  /** Bytes queued on the socket before it is closed as too slow. */
  readonly maxBufferedBytes: number;
  /** Messages the client may send per second (a burst of this many, refilled every second). */
  readonly messagesPerSecond: number;
  readonly counters: { closed(code: number): void };
}

export interface GuardedSocketHandlers {
  /** A message from the client: a JSON object (frames that are not close the socket with 4400). */
  message(message: Record<string, unknown>): void;
  /** The socket closed, from either side; called once. */
  closed(): void;
}

/**
 * A client's WebSocket with the bounds every gateway socket keeps (/v1/stream, /v1/dashboard): a
 * message rate, JSON objects in text frames only, a send queue that may not grow past a limit,
 * and timers that die with the socket.
 */
export class GuardedSocket {
  readonly #socket: WebSocket;
  readonly #options: GuardedSocketOptions;
  readonly #handlers: GuardedSocketHandlers;
  readonly #timers = new Set<NodeJS.Timeout>();
  #budget: number;
  #closed = false;

  constructor(socket: WebSocket, options: GuardedSocketOptions, handlers: GuardedSocketHandlers) {
    this.#socket = socket;
    this.#options = options;
    this.#handlers = handlers;
    this.#budget = options.messagesPerSecond;
    this.#timers.add(setInterval(() => (this.#budget = options.messagesPerSecond), 1_000));
    socket.on('message', (data, isBinary) => this.#receive(isBinary ? undefined : data.toString()));
    socket.on('close', () => this.#dispose());
    socket.on('error', () => this.#dispose());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the socket with `code`; a socket too slow to read its queue is cut instead. */
  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#options.counters.closed(code);
    // A socket too slow to read its queue would not read a close frame either: cut it, freeing the queue now.
    if (code === CLOSE.tooSlow) this.#socket.terminate();
    else {
      try {
        this.#socket.close(code, closeReason(reason));
      } catch {
        this.#socket.terminate(); // ws refuses a close it cannot send (an ended socket): cut it
      }
    }
    this.#dispose();
  }

  /** Sends a message (an object, or a frame already serialised), unless the socket is closed; closes it as too slow past the queue limit. */
  send(message: Record<string, unknown> | string): void {
    if (this.#closed || this.#socket.readyState !== this.#socket.OPEN) return;
    if (this.#socket.bufferedAmount > this.#options.maxBufferedBytes) return this.close(CLOSE.tooSlow, 'the socket reads too slowly');
    this.#socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Runs `run` after `delayMs` (capped to what a timer can wait), unless the socket has closed by then. */
  later(delayMs: number, run: () => void): void {
    const timer = setTimeout(
      () => {
        this.#timers.delete(timer);
        run();
      },
      Math.min(Math.max(0, delayMs), 2 ** 31 - 1),
    );
    this.#timers.add(timer);
  }

  #receive(text: string | undefined): void {
    if (this.#closed) return;
    if ((this.#budget -= 1) < 0) return this.close(CLOSE.tooMany, 'too many messages');
    let message: Record<string, unknown>;
    try {
      const parsed: unknown = text === undefined ? undefined : JSON.parse(text);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      message = parsed as Record<string, unknown>;
    } catch {
      return this.close(CLOSE.badMessage, 'messages are JSON objects in text frames');
    }
    try {
      this.#handlers.message(message);
    } catch {
      // This runs inside ws's data handler, where a throw would end the process: one message may end only its socket.
      this.close(CLOSE.internalError, 'the gateway could not handle this message');
    }
  }

  #dispose(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#handlers.closed();
  }
}

/** Longest close reason a close frame carries (RFC 6455 §5.5: 125 bytes of payload, 2 of them the code). */
const MAX_CLOSE_REASON_BYTES = 123;

/** `reason` cut to what a close frame can carry, by bytes and never inside a character: ws throws for a longer one. */
export function closeReason(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_CLOSE_REASON_BYTES) return reason;
  let cut = '';
  for (const character of reason) {
    if (Buffer.byteLength(cut + character) > MAX_CLOSE_REASON_BYTES) break;
    cut += character;
  }
  return cut;
}
