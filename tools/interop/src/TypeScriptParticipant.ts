import { randomBytes } from 'node:crypto';
import type { BodyOf, ChatDirect, ChatPublication, MessageType, ServiceCallReply } from '@correio/protocol';
import { LamportStamp, RequestClient, Subscriber, topic } from '@correio/transport';
import { PAGE, type Participant, type ReceivedEvent } from './Participant.js';

type ChatRequest = Extract<MessageType, `chat.${string}.request`>;
/** The requests that never carry a token. */
const ANONYMOUS: ReadonlySet<ChatRequest> = new Set(['chat.register.request', 'chat.login.request', 'chat.refresh.request']);
/** The body of a request's reply (every `x.request` is answered with `x.reply`). */
type ReplyBody<T extends ChatRequest> = T extends `${infer Stem}.request` ? BodyOf<Extract<MessageType, `${Stem}.reply`>> : never;

/** The broker service of an action: `svc.` and the action name up to its last dot (FRAMES.md §4.2). */
function serviceOf(action: string): string {
  const dot = action.lastIndexOf('.');
  if (dot <= 0) throw new RangeError(`an action is <service>.<method>, got ${JSON.stringify(action)}`);
  return `svc.${action.slice(0, dot)}`;
}

/**
 * A chat user in the test's own process, on @correio/transport as any TypeScript peer would: a
 * RequestClient for requests, a Subscriber for events, one Lamport clock for both, which also
 * merges the lc of every message received (the envelope's clock is merged by the transport).
 */
export class TypeScriptParticipant implements Participant {
  readonly language = 'typescript';
  readonly events: ReceivedEvent[] = [];
  readonly stamp: LamportStamp;
  readonly #requests: RequestClient;
  readonly #subscriber: Subscriber;
  readonly #receiving: Promise<void>;
  /** The access token of the latest login: every later request carries it, and no body user. */
  #token: string | undefined;

  constructor(
    readonly user: string,
    endpoints: { readonly broker: string; readonly proxy: string },
    readonly service = 'chat',
  ) {
    this.stamp = new LamportStamp(`ts-chat-${user}-${randomBytes(4).toString('hex')}`);
    this.#requests = new RequestClient({ endpoint: endpoints.broker, stamp: this.stamp, timeout: 5_000, retries: 2, backoff: { initialMs: 100, maxMs: 1_000 } });
    this.#subscriber = new Subscriber({ stamp: this.stamp, topics: [topic('user', user)] });
    this.#subscriber.events.on('gap', (gap) => this.events.push({ event: 'gap', topic: gap.topic, publisher: gap.publisher, lc: this.stamp.value }));
    this.#subscriber.connect(endpoints.proxy);
    this.#receiving = this.#receive();
  }

  async #receive(): Promise<void> {
    for await (const { topic: where, publisher, seq, envelope } of this.#subscriber) {
      if (envelope.type === 'chat.publication' && where.startsWith('chan/')) {
        const message = envelope.body as ChatPublication;
        this.stamp.observe({ lc: message.lc, ts: message.ts });
        this.events.push({ event: 'publication', topic: where, publisher, seq, message, lc: this.stamp.value });
      } else if (envelope.type === 'chat.direct' && where.startsWith('user/')) {
        const message = envelope.body as ChatDirect;
        this.stamp.observe({ lc: message.lc, ts: message.ts });
        this.events.push({ event: 'direct', topic: where, publisher, seq, message, lc: this.stamp.value });
      }
    }
  }

  async #chat<T extends ChatRequest>(type: T, body: BodyOf<T>): Promise<ReplyBody<T>> {
    const auth = ANONYMOUS.has(type) ? undefined : this.#token;
    return (await this.#requests.request(this.service, type, body, auth === undefined ? {} : { auth })).body as ReplyBody<T>;
  }

  /** The body user of a request acting as this user: none with a token (the server takes it from the token). */
  #actingUser(): { user?: string } {
    return this.#token === undefined ? { user: this.user } : {};
  }

  register(password: string) {
    return this.#chat('chat.register.request', { user: this.user, password });
  }

  async login(password?: string) {
    const reply = await this.#chat('chat.login.request', { user: this.user, ...(password === undefined ? {} : { password }) });
    this.#token = reply.token;
    return reply;
  }

  users() {
    return this.#chat('chat.users.request', { limit: PAGE });
  }

  channels() {
    return this.#chat('chat.channels.request', { limit: PAGE });
  }

  createChannel(channel: string) {
    return this.#chat('chat.channel.create.request', { ...this.#actingUser(), channel });
  }

  async join(channel: string): Promise<void> {
    this.#subscriber.subscribe(topic('chan', channel));
  }

  publish(channel: string, text: string) {
    return this.#chat('chat.publish.request', { ...this.#actingUser(), channel, text });
  }

  direct(to: string, text: string) {
    return this.#chat('chat.direct.request', { ...this.#actingUser(), to, text });
  }

  async history(channel: string) {
    const reply = await this.#chat('chat.history.request', { channel, limit: PAGE });
    for (const message of reply.messages) this.stamp.observe({ lc: message.lc, ts: message.ts });
    return reply;
  }

  async call(action: string, params: unknown): Promise<ServiceCallReply> {
    const reply = await this.#requests.request(serviceOf(action), 'service.call.request', { action, params } as BodyOf<'service.call.request'>);
    return reply.body as ServiceCallReply;
  }

  async lc(): Promise<number> {
    return this.stamp.value;
  }

  async close(): Promise<void> {
    await Promise.all([this.#requests.close(), this.#subscriber.close()]);
    await this.#receiving;
  }
}
