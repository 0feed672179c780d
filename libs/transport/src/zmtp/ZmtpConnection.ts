import type { Socket } from 'node:net';
import { parseCommand } from './commands.js';
import { COMMAND, FrameDecoder, MORE, type WireFrame } from './framing.js';
import { GREETING_BYTES, checkGreeting, encodeGreeting, type GreetingRefusal } from './greeting.js';
import type { HandshakeRefusal, Mechanism } from './Mechanism.js';

/** Why a connection ended: the peer left (`peer`), the server closed (`server`), or a refusal. */
export type ConnectionEnd = 'peer' | 'server' | ConnectionRefusal;

/**
 * Why a peer was cut off: a greeting that is not ZMTP 3 or names another mechanism, a failed
 * handshake (malformed, not a subscriber socket, CURVE keys), a frame over the size limit, a frame
 * that does not decode after the handshake (`protocol`), or no handshake in time. `abandoned`: the
 * peer itself left before its handshake completed, as a libzmq peer does on finding that our
 * greeting names another mechanism than its own (a plaintext peer of a CURVE server).
 */
export type ConnectionRefusal = GreetingRefusal | HandshakeRefusal | 'oversized' | 'protocol' | 'timeout' | 'abandoned';

export interface ConnectionOptions {
  readonly mechanism: Mechanism;
  /** Largest frame the peer may send. */
  readonly maxFrameBytes: number;
  /** Messages queued for the peer; further ones are dropped (PUB semantics). 0: no limit, as in libzmq. */
  readonly sendHighWaterMark: number;
  readonly handshakeTimeoutMs: number;
}

export interface ConnectionHandlers {
  subscription(connection: ZmtpConnection, subscribe: boolean, prefix: Buffer): void;
  /** A message that is neither a subscription nor a cancel (its first frame). */
  stray(connection: ZmtpConnection, first: Buffer): void;
  closed(connection: ZmtpConnection, end: ConnectionEnd, detail?: string): void;
}

/**
 * One peer of an XPUB, server side, on a stream socket: greeting, handshake, then subscriptions
 * in (ZMTP 3.0 messages `1 topic` / `0 topic` or 3.1 SUBSCRIBE/CANCEL commands, PING answered)
 * and messages out through a queue bounded by a high-water mark.
 */
export class ZmtpConnection {
  /** `host:port`, or the ipc path, for logs. */
  readonly peer: string;
  /** The prefixes this peer holds (latin1). */
  readonly topics = new Set<string>();
  /** The last publication delivered to it, so one matching several prefixes is sent once. */
  delivered = 0;
  readonly #socket: Socket;
  readonly #options: ConnectionOptions;
  readonly #handlers: ConnectionHandlers;
  readonly #decoder: FrameDecoder;
  readonly #timer: NodeJS.Timeout;
  readonly #written = () => this.#queued--;
  readonly #uncork = () => {
    this.#corked = false;
    this.#socket.uncork();
  };
  #greeting: Buffer | undefined = Buffer.alloc(0);
  #state: 'handshake' | 'ready' | 'closed' = 'handshake' as 'handshake' | 'ready' | 'closed';
  /** Inside a message of several frames from the peer: no subscription, reported once at its end. */
  #stray: Buffer | undefined;
  #queued = 0;
  readonly #highWaterMark: number;
  #corked = false;

  constructor(socket: Socket, options: ConnectionOptions, handlers: ConnectionHandlers) {
    this.#socket = socket;
    this.#options = options;
    this.#handlers = handlers;
    this.#decoder = new FrameDecoder(options.maxFrameBytes);
    this.#highWaterMark = options.sendHighWaterMark === 0 ? Infinity : options.sendHighWaterMark;
    this.peer = socket.remoteAddress !== undefined ? `${socket.remoteAddress}:${socket.remotePort}` : 'ipc';
    this.#timer = setTimeout(() => this.close('timeout', `no handshake within ${options.handshakeTimeoutMs} ms`), options.handshakeTimeoutMs).unref();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#receive(chunk);
      } catch (error) {
        // Whatever a peer sends ends at most its own connection.
        this.close('protocol', `unexpected failure: ${String(error)}`);
      }
    });
    socket.on('error', () => undefined); // 'close' follows
    socket.on('close', () => (this.#state === 'ready' ? this.close('peer') : this.close('abandoned', 'the peer left during the handshake')));
    socket.write(encodeGreeting(options.mechanism.name));
  }

  /** Queues bytes already encoded for this peer's mechanism; false (dropped) at the high-water mark. */
  sendEncoded(bytes: Buffer): boolean {
    if (this.#state !== 'ready' || this.#queued >= this.#highWaterMark) return false;
    this.#queued++;
    // Writes of one turn of the event loop leave in one system call.
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(this.#uncork);
    }
    this.#socket.write(bytes, this.#written);
    return true;
  }

  /** Queues a message, encoded by this connection's mechanism (CURVE boxes each peer's copy). */
  send(frames: readonly Buffer[]): boolean {
    if (this.#state !== 'ready' || this.#queued >= this.#highWaterMark) return false;
    return this.sendEncoded(this.#options.mechanism.encode(frames));
  }

  close(end: ConnectionEnd, detail?: string): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#timer);
    this.#socket.destroy();
    this.#greeting = undefined;
    this.#handlers.closed(this, end, detail);
  }

  #receive(chunk: Buffer): void {
    if (this.#greeting !== undefined) {
      const greeting = Buffer.concat([this.#greeting, chunk]);
      if (greeting[0] !== undefined && greeting[0] !== 0xff) return this.close('greeting', 'not a ZMTP 3 signature');
      if (greeting.length < GREETING_BYTES) {
        this.#greeting = greeting;
        return;
      }
      const refusal = checkGreeting(greeting, this.#options.mechanism.name);
      if (refusal) return this.close(refusal, refusal === 'mechanism' ? `peer asks for ${greeting.toString('latin1', 12, 32).replace(/\0+$/, '')}` : 'not ZMTP 3');
      this.#greeting = undefined;
      chunk = greeting.subarray(GREETING_BYTES);
      if (chunk.length === 0) return;
    }
    if (!this.#decoder.push(chunk, (frame) => this.#frame(frame))) this.close('oversized', `frame over ${this.#options.maxFrameBytes} bytes`);
  }

  /** One frame; false once the connection is closed. */
  #frame(wire: WireFrame): boolean {
    if (this.#state === 'handshake') {
      const step = this.#options.mechanism.handshake(wire);
      if (step.refuse) {
        this.close(step.refuse, step.detail);
        return false;
      }
      if (step.send) this.#socket.write(step.send);
      if (step.ready) {
        this.#state = 'ready';
        clearTimeout(this.#timer);
      }
      return true;
    }
    const frame = this.#options.mechanism.decode(wire);
    if (!frame) {
      this.close('protocol', 'a frame that does not decode');
      return false;
    }
    if ((frame.flags & COMMAND) !== 0) this.#command(frame.body);
    else this.#message(frame);
    return this.#state !== 'closed';
  }

  #command(body: Buffer): void {
    const command = parseCommand(body);
    if (command?.name === 'SUBSCRIBE' || command?.name === 'CANCEL') this.#handlers.subscription(this, command.name === 'SUBSCRIBE', command.data);
    else if (command?.name === 'PING') {
      // PONG echoes the context that follows the 2-byte TTL (at most 16 bytes).
      const context = command.data.subarray(2, 18);
      this.sendEncoded(this.#options.mechanism.encodeCommand(Buffer.concat([Buffer.from('\x04PONG', 'latin1'), context])));
    }
    // Other commands (PONG, ERROR, unknown ones) need nothing from an XPUB.
  }

  #message(frame: WireFrame): void {
    const more = (frame.flags & MORE) !== 0;
    if (this.#stray !== undefined || more) {
      this.#stray ??= Buffer.from(frame.body.subarray(0, 32));
      if (!more) {
        this.#handlers.stray(this, this.#stray);
        this.#stray = undefined;
      }
      return;
    }
    const kind = frame.body[0];
    if (kind === 0 || kind === 1) this.#handlers.subscription(this, kind === 1, frame.body.subarray(1));
    else this.#handlers.stray(this, frame.body);
  }
}
