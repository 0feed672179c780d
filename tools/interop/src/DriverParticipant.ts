import { CorreioError, type WireError } from '@correio/codec';
import type {
  ChatChannelCreateReply,
  ChatChannelsReply,
  ChatDirectReply,
  ChatHistoryReply,
  ChatLoginReply,
  ChatPublishReply,
  ChatRegisterReply,
  ChatUsersReply,
  ServiceCallReply,
} from '@correio/protocol';
import type { Child } from '@correio/testing';
import { PAGE, type Participant, type ReceivedEvent } from './Participant.js';

/** One line a driver writes: the ready line, a reply (`n`), or an event. */
type DriverLine =
  | { readonly ready: true; readonly from: string; readonly lc: number }
  | { readonly n: number; readonly ok: true; readonly result: unknown; readonly lc: number }
  | { readonly n: number; readonly ok: false; readonly error: WireError; readonly lc: number }
  | ReceivedEvent;

interface Pending {
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * A participant in another process that speaks the drivers' JSON lines: commands on its stdin,
 * replies and events on its stdout (peers/go/cmd/correio-chat, peers/python/interop/chat_driver.py
 * and peers/rust/src/bin/correio-chat.rs document them). Commands are answered in order; each waits
 * at most `requestTimeoutMs`, and all fail at once if the process dies.
 */
export class DriverParticipant implements Participant {
  readonly events: ReceivedEvent[] = [];
  /** The node id in the from of the driver's envelopes. */
  from = '';
  readonly #pending = new Map<number, Pending>();
  readonly #ready: Promise<void>;
  #next = 0;

  constructor(
    readonly language: string,
    readonly user: string,
    readonly child: Child,
    readonly requestTimeoutMs = 30_000,
  ) {
    let onReady!: () => void;
    this.#ready = new Promise((resolve) => (onReady = resolve));
    child.onLine((text) => {
      const line = this.#parse(text);
      if (line === undefined) return;
      if ('ready' in line) {
        this.from = line.from;
        onReady();
      } else if ('event' in line) {
        this.events.push(line);
      } else {
        const pending = this.#pending.get(line.n);
        if (!pending) return;
        this.#pending.delete(line.n);
        clearTimeout(pending.timer);
        if (line.ok) pending.resolve(line.result);
        else pending.reject(CorreioError.fromWire(line.error));
      }
    });
    void child.exited.then(() => {
      for (const [n, pending] of this.#pending) {
        clearTimeout(pending.timer);
        pending.reject(child.failure(`exited with command ${n} unanswered`));
      }
      this.#pending.clear();
    });
  }

  /** Resolves once the driver is connected (its ready line); rejects after `timeoutMs` or if it exits first. */
  async ready(timeoutMs: number): Promise<this> {
    let timer: NodeJS.Timeout | undefined;
    const failed = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.child.failure(`printed no ready line within ${timeoutMs} ms`)), timeoutMs);
      void this.child.exited.then(() => reject(this.child.failure('exited before its ready line')));
    });
    failed.catch(() => undefined); // once ready, a later exit is reported by the commands instead
    try {
      await Promise.race([this.#ready, failed]);
    } finally {
      clearTimeout(timer);
    }
    return this;
  }

  register(password: string): Promise<ChatRegisterReply> {
    return this.#run('register', { password });
  }

  login(password?: string): Promise<ChatLoginReply> {
    return this.#run('login', password === undefined ? {} : { password });
  }

  users(): Promise<ChatUsersReply> {
    return this.#run('users', { limit: PAGE });
  }

  channels(): Promise<ChatChannelsReply> {
    return this.#run('channels', { limit: PAGE });
  }

  createChannel(channel: string): Promise<ChatChannelCreateReply> {
    return this.#run('create_channel', { channel });
  }

  async join(channel: string): Promise<void> {
    await this.#run('join', { channel });
  }

  publish(channel: string, text: string): Promise<ChatPublishReply> {
    return this.#run('publish', { channel, text });
  }

  direct(to: string, text: string): Promise<ChatDirectReply> {
    return this.#run('direct', { to, text });
  }

  history(channel: string): Promise<ChatHistoryReply> {
    return this.#run('history', { channel, limit: PAGE });
  }

  call(action: string, params: unknown): Promise<ServiceCallReply> {
    return this.#run('call', { action, params });
  }

  async lc(): Promise<number> {
    return (await this.#run<{ lc: number }>('lc', {})).lc;
  }

  /** Ends the session (end of input), and stops the process if it does not end by itself. */
  async close(): Promise<void> {
    this.child.endInput();
    const timer = setTimeout(() => void this.child.stop(3_000), 5_000);
    await this.child.exited;
    clearTimeout(timer);
  }

  #run<T>(op: string, args: Record<string, unknown>): Promise<T> {
    const n = ++this.#next;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(n);
        reject(this.child.failure(`did not answer ${op} (command ${n}) within ${this.requestTimeoutMs} ms`));
      }, this.requestTimeoutMs);
      this.#pending.set(n, { resolve: resolve as (result: unknown) => void, reject, timer });
      this.child.write(JSON.stringify({ n, op, ...args }));
    });
  }

  #parse(text: string): DriverLine | undefined {
    try {
      return JSON.parse(text) as DriverLine;
    } catch {
      return undefined; // the drivers print nothing but JSON on stdout; anything else is not ours
    }
  }
}
