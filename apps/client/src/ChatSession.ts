import { CorreioError, UnavailableError } from '@correio/codec';
import type { ChatDirect, ChatPublication } from '@correio/protocol';
import type { ChatClient, ReceiveGap } from './ChatClient.js';
import { COMMANDS, parseCommandLine, type Command } from './commands.js';
import { brokerDownMessage, describeFailure, describeLoginFailure, proxyDownMessage, type Endpoints } from './failures.js';
import { SeenOps } from './SeenOps.js';
import type { SessionEvent, StampedSessionEvent } from './SessionEvent.js';

export interface ChatSessionOptions {
  /** Receives every event, in order. */
  readonly emit: (event: StampedSessionEvent) => void;
  /** Called once the session ended by /quit. */
  readonly onQuit?: () => void;
  /** How many recent messages /join shows. Default 20. */
  readonly historyOnJoin?: number;
  /** How long start() waits for the broker connection before giving up. Default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /** How long start() waits for the proxy before warning that live messages will be late. Default 1500 ms. */
  readonly proxyWaitMs?: number;
  /** How many recent publications of each joined channel are re-read after a loss. Default 50 (at most 500). */
  readonly recoverLimit?: number;
  /** Asks the person for the current and the new password (/password); without it /password is refused. */
  readonly askPasswords?: () => Promise<PasswordChange>;
}

/** The answer to /password's questions: the two passwords, or why there are none (nothing is sent then). */
export type PasswordChange = { readonly current: string; readonly next: string } | { readonly problem: string };

/** How start() logs in: a password (servers in password mode need one) and whether to register the user first. */
export interface SessionCredentials {
  readonly password?: string;
  /** Create the account first (chat.register.request); needs a password. */
  readonly register?: boolean;
}

/** How long logout on the way out may take: quitting does not wait for a missing server. */
const LOGOUT_TIMEOUT_MS = 1_500;

/** Publications per history request (the protocol's largest page). */
const PAGE = 500;

/**
 * The chat session behind both user interfaces: runs command lines one at a time, in order, on a
 * ChatClient, keeps the current channel and the joined ones, and turns replies, live messages,
 * losses and connection changes into SessionEvents. Each command line produces exactly one reply
 * event (or an `error` naming the command); live events come in between.
 *
 * Loss handling (FRAMES.md §3.4, §3.6): a sequence gap on a joined channel, or the proxy coming
 * back after an outage, makes the session re-read that channel's latest history and report what
 * it had not shown yet as `recovered` publications; operation ids make every publication show once.
 */
export class ChatSession {
  readonly #client: ChatClient;
  readonly #endpoints: Endpoints;
  readonly #options: ChatSessionOptions;
  readonly #seen = new SeenOps();
  readonly #joined = new Set<string>();
  /** Channels being joined: publications that arrive before their history was read wait here. */
  readonly #joining = new Map<string, ChatPublication[]>();
  readonly #offs: (() => void)[] = [];
  #current: string | undefined;
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;
  #state: 'new' | 'starting' | 'ready' | 'ended' = 'new';
  /** Live events that arrived while logging in, shown right after `ready`. */
  #early: SessionEvent[] = [];
  #proxyWasDown = false;

  constructor(client: ChatClient, options: ChatSessionOptions) {
    this.#client = client;
    this.#options = options;
    this.#endpoints = { broker: client.brokerEndpoint, service: client.service, ...(client.proxyEndpoint !== undefined ? { proxy: client.proxyEndpoint } : {}) };
  }

  /** The channel plain lines are published on. */
  get channel(): string | undefined {
    return this.#current;
  }

  get joined(): ReadonlySet<string> {
    return this.#joined;
  }

  get user(): string | undefined {
    return this.#client.user;
  }

  /** Command lines submitted and not finished yet. */
  get pending(): number {
    return this.#pending;
  }

  get ended(): boolean {
    return this.#state === 'ended';
  }

  /**
   * Connects, registers `user` when asked to, logs it in, then emits `ready`. Throws a CorreioError
   * whose message says what to do when the broker cannot be reached, no chat server answers, the
   * password is wrong or missing, or the name is taken.
   */
  async start(user: string, credentials: SessionCredentials = {}): Promise<void> {
    if (this.#state !== 'new') throw new Error(`the session is already ${this.#state}`);
    this.#state = 'starting';
    this.#listen();
    const connectTimeout = this.#options.connectTimeoutMs ?? 5_000;
    if (!(await this.#client.waitForBroker(connectTimeout))) {
      throw new UnavailableError(brokerDownMessage(this.#endpoints.broker), { data: { endpoints: [this.#endpoints.broker] } });
    }
    let login;
    try {
      if (credentials.register) {
        if (credentials.password === undefined) throw new CorreioError('BAD_REQUEST', `registering ${user} needs a password: pass --password or set CORREIO_PASSWORD`);
        await this.#client.register(user, credentials.password);
      }
      login = await this.#client.login(user, credentials.password === undefined ? {} : { password: credentials.password });
    } catch (error) {
      throw this.#friendly(error, (failure) => describeLoginFailure(failure, { user, password: credentials.password !== undefined, register: credentials.register === true }));
    }
    const proxyUp = this.#endpoints.proxy === undefined || (await this.#client.waitForProxy(this.#options.proxyWaitMs ?? 1_500));
    this.#state = 'ready';
    this.#emit({
      event: 'ready',
      user: login.user,
      created: login.created,
      ...(credentials.register ? { registered: true as const } : {}),
      first_seen: login.first_seen,
      last_seen: login.last_seen,
      broker: this.#endpoints.broker,
      ...(this.#endpoints.proxy !== undefined ? { proxy: this.#endpoints.proxy } : {}),
    });
    if (!proxyUp) {
      this.#proxyWasDown = true;
      this.#emit({ event: 'connection', peer: 'proxy', up: false, endpoint: this.#endpoints.proxy!, message: proxyDownMessage(this.#endpoints.proxy!) });
    }
    const early = this.#early;
    this.#early = [];
    for (const event of early) this.#emit(event);
  }

  /** Queues a command line; resolves once it has run and its reply was emitted. */
  submit(line: string): Promise<void> {
    this.#pending += 1;
    const run = this.#tail.then(() => this.#run(line));
    this.#tail = run.finally(() => {
      this.#pending -= 1;
    });
    return this.#tail;
  }

  /** Resolves once every submitted line has run. */
  idle(): Promise<void> {
    return this.#tail;
  }

  /**
   * Logs the user out everywhere (every token of the user stops verifying), when the login handed
   * out tokens; quickly and without retries, and never throws: quitting goes on regardless.
   */
  async logout(): Promise<void> {
    if (this.#client.token === undefined) return;
    try {
      await this.#client.logout({ timeout: LOGOUT_TIMEOUT_MS, retries: 0 });
    } catch {
      // The tokens then simply expire.
    }
  }

  /** Ends the session: emits `bye` (once) and stops listening. Does not close the client. */
  end(): void {
    if (this.#state === 'ended') return;
    const wasReady = this.#state === 'ready';
    this.#state = 'ended';
    for (const off of this.#offs.splice(0)) off();
    if (wasReady) this.#emit({ event: 'bye', ...(this.#client.user !== undefined ? { user: this.#client.user } : {}) });
  }

  async #run(line: string): Promise<void> {
    if (this.#state === 'ended') return;
    const parsed = parseCommandLine(line);
    if (parsed.ok === 'blank') return;
    if (parsed.ok === false) {
      this.#emit({ event: 'error', ...(parsed.command !== undefined ? { command: parsed.command } : {}), code: 'USAGE', message: parsed.problem, retryable: false });
      return;
    }
    try {
      await this.#execute(parsed.command);
    } catch (error) {
      const failure = CorreioError.from(error);
      let message = describeFailure(failure, this.#endpoints);
      // A request that got no answer may still have been queued on the way, and applied later.
      if ((parsed.command.name === 'say' || parsed.command.name === 'msg') && failure.retryable) message += ' (not acknowledged: it may still be delivered once the service is reachable)';
      this.#emit({ event: 'error', command: parsed.command.name, code: failure.code, message, retryable: failure.retryable });
    }
  }

  async #execute(command: Command): Promise<void> {
    const client = this.#client;
    switch (command.name) {
      case 'say': {
        const channel = this.#current;
        if (channel === undefined) {
          this.#emit({ event: 'error', command: 'say', code: 'USAGE', message: 'you are in no channel: /join <channel> first (/channels lists them)', retryable: false });
          return;
        }
        const reply = await client.publish(channel, command.text);
        this.#emit({ event: 'published', channel: reply.channel, text: command.text, op: reply.op, lc: reply.lc, ts: reply.ts });
        return;
      }
      case 'msg': {
        const reply = await client.direct(command.to, command.text);
        this.#emit({ event: 'sent', to: reply.to, text: command.text, op: reply.op, lc: reply.lc, ts: reply.ts });
        return;
      }
      case 'join':
        return this.#join(command.channel);
      case 'leave': {
        const channel = command.channel ?? this.#current;
        if (channel === undefined || !this.#joined.has(channel)) {
          this.#emit({ event: 'error', command: 'leave', code: 'USAGE', message: channel === undefined ? 'you are in no channel' : `you have not joined #${channel}`, retryable: false });
          return;
        }
        client.unsubscribeChannel(channel);
        this.#joined.delete(channel);
        if (this.#current === channel) this.#current = [...this.#joined].at(-1);
        this.#emit({ event: 'left', channel });
        return;
      }
      case 'create': {
        const reply = await client.createChannel(command.channel);
        this.#emit({ event: 'channel', ...reply });
        return;
      }
      case 'channels': {
        const { channels, truncated } = await client.allChannels();
        this.#emit({ event: 'channels', channels, truncated });
        return;
      }
      case 'users': {
        const { users, truncated } = await client.allUsers();
        this.#emit({ event: 'users', users, truncated });
        return;
      }
      case 'history': {
        const channel = this.#current;
        if (channel === undefined) {
          this.#emit({ event: 'error', command: 'history', code: 'USAGE', message: 'you are in no channel: /join <channel> first', retryable: false });
          return;
        }
        const messages = await latest((options) => client.history(channel, options), command.count);
        this.#emit({ event: 'history', channel, messages });
        return;
      }
      case 'conversation': {
        const messages = await latest((options) => client.conversation(command.peer, options), command.count);
        this.#emit({ event: 'conversation', peer: command.peer, messages });
        return;
      }
      case 'password':
        return this.#changePassword();
      case 'help':
        this.#emit({ event: 'help', commands: COMMANDS });
        return;
      case 'quit':
        this.end();
        this.#options.onQuit?.();
        return;
    }
  }

  async #join(channel: string): Promise<void> {
    const client = this.#client;
    const wasJoined = this.#joined.has(channel);
    // Subscribe first, then read: what is published in between arrives live and shows once (FRAMES.md §3.6).
    client.subscribeChannel(channel);
    const arrived: ChatPublication[] = [];
    if (!wasJoined) this.#joining.set(channel, arrived);
    let messages: readonly ChatPublication[];
    try {
      messages = (await client.history(channel, { limit: Math.min(PAGE, Math.max(1, this.#options.historyOnJoin ?? 20)) })).messages;
    } catch (error) {
      if (!wasJoined) client.unsubscribeChannel(channel);
      const failure = CorreioError.from(error);
      if (failure.code === 'NOT_FOUND') throw new CorreioError('NOT_FOUND', `there is no channel #${channel}: /create ${channel} makes it`);
      throw error;
    } finally {
      this.#joining.delete(channel);
    }
    for (const message of messages) this.#seen.add(message.op);
    this.#joined.add(channel);
    this.#current = channel;
    this.#emit({ event: 'joined', channel, messages });
    for (const publication of arrived) this.#onPublication(publication);
  }

  async #changePassword(): Promise<void> {
    const refuse = (message: string) => this.#emit({ event: 'error', command: 'password', code: 'USAGE', message, retryable: false });
    if (this.#client.token === undefined) return refuse('/password needs a password login: this session has no token (a server in open mode)');
    const answer = this.#options.askPasswords ? await this.#options.askPasswords() : { problem: '/password needs a terminal: it asks for the passwords without showing them' };
    if ('problem' in answer) return refuse(answer.problem);
    try {
      // The client logs in again with the new password: its tokens are replaced by the new login's.
      const reply = await this.#client.changePassword(answer.current, answer.next);
      this.#emit({ event: 'password', user: reply.user, changed_at: reply.changed_at });
    } catch (error) {
      const failure = CorreioError.from(error);
      if (failure.code === 'UNAUTHENTICATED' && failure.data?.['reason'] === 'bad_password') throw new CorreioError(failure.code, 'the current password is wrong: nothing changed');
      throw error;
    }
  }

  /** Re-reads a joined channel's latest publications and emits those not shown yet. */
  async #recover(channel: string, missed: number): Promise<void> {
    const limit = Math.min(PAGE, Math.max(this.#options.recoverLimit ?? 50, missed + 10));
    try {
      const { messages } = await this.#client.history(channel, { limit });
      for (const message of messages) {
        if (!this.#joined.has(channel) || this.#state === 'ended') return;
        if (this.#seen.add(message.op)) this.#emit({ event: 'publication', recovered: true, ...message });
      }
    } catch (error) {
      if (this.#state === 'ended') return;
      const failure = CorreioError.from(error);
      this.#emit({ event: 'error', code: failure.code, message: `could not re-read #${channel} to recover lost messages: ${describeFailure(failure, this.#endpoints)}`, retryable: failure.retryable });
    }
  }

  #listen(): void {
    const client = this.#client;
    this.#offs.push(
      client.events.on('publication', ({ publication }) => this.#onPublication(publication)),
      client.events.on('direct', ({ message }) => this.#onDirect(message)),
      client.events.on('gap', (gap) => this.#onGap(gap)),
      client.events.on('broker', ({ up, endpoint }) => {
        if (this.#state !== 'ready') return;
        const message = up
          ? `reconnected to the broker at ${endpoint}`
          : `lost the connection to the broker at ${endpoint}; requests are retried until it is back (${brokerDownMessage(endpoint)})`;
        this.#emit({ event: 'connection', peer: 'broker', up, endpoint, message });
      }),
      client.events.on('proxy', ({ up, endpoint }) => {
        if (this.#state !== 'ready') return;
        if (!up) {
          this.#proxyWasDown = true;
          this.#emit({ event: 'connection', peer: 'proxy', up, endpoint, message: `lost the proxy at ${endpoint}; messages published meanwhile will be recovered from history when it is back` });
          return;
        }
        const channels = [...this.#joined];
        const recovering = this.#proxyWasDown && channels.length > 0;
        this.#proxyWasDown = false;
        this.#emit({
          event: 'connection',
          peer: 'proxy',
          up,
          endpoint,
          message: `connected to the proxy at ${endpoint}${recovering ? `; re-reading ${channels.map((c) => `#${c}`).join(', ')} for what was missed` : ''}`,
        });
        if (recovering) for (const channel of channels) void this.#recover(channel, 0);
      }),
    );
  }

  #onPublication(publication: ChatPublication): void {
    const joining = this.#joining.get(publication.channel);
    if (joining) {
      joining.push(publication);
      return;
    }
    if (!this.#joined.has(publication.channel)) return; // left, still in flight
    if (!this.#seen.add(publication.op)) return;
    this.#live({ event: 'publication', ...publication });
  }

  #onDirect(message: ChatDirect): void {
    if (!this.#seen.add(message.op)) return;
    this.#live({ event: 'direct', ...message });
  }

  #onGap(gap: ReceiveGap): void {
    this.#live({ event: 'gap', topic: gap.topic, ...(gap.channel !== undefined ? { channel: gap.channel } : {}), missed: gap.missed, publisher: gap.publisher });
    if (gap.channel !== undefined && this.#joined.has(gap.channel) && this.#state === 'ready') void this.#recover(gap.channel, gap.missed);
  }

  #live(event: SessionEvent): void {
    if (this.#state === 'ended') return;
    if (this.#state === 'ready') this.#emit(event);
    else this.#early.push(event);
  }

  #emit(event: SessionEvent): void {
    this.#options.emit({ ...event, clock: this.#client.lc, at: Date.now() });
  }

  #friendly(error: unknown, describe: (failure: CorreioError) => string | undefined = () => undefined): CorreioError {
    const failure = CorreioError.from(error);
    const message = describe(failure) ?? describeFailure(failure, this.#endpoints);
    return new CorreioError(failure.code, message, { retryable: failure.retryable, cause: error, ...(failure.data ? { data: failure.data } : {}) });
  }
}

/** Reads the latest `count` items of a paged, newest-page-first listing, oldest first. */
async function latest<T>(
  read: (options: { limit: number; before?: string }) => Promise<{ messages: T[]; next?: string }>,
  count: number,
): Promise<T[]> {
  const pages: T[][] = [];
  let wanted = count;
  let before: string | undefined;
  while (wanted > 0) {
    const reply = await read({ limit: Math.min(PAGE, wanted), ...(before !== undefined ? { before } : {}) });
    pages.unshift(reply.messages);
    wanted -= reply.messages.length;
    if (reply.next === undefined || reply.messages.length === 0) break;
    before = reply.next;
  }
  return pages.flat().slice(-count);
}
