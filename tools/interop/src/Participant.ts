import type {
  ChatChannelCreateReply,
  ChatChannelsReply,
  ChatDirect,
  ChatDirectReply,
  ChatHistoryReply,
  ChatLoginReply,
  ChatPublication,
  ChatPublishReply,
  ChatRegisterReply,
  ChatUsersReply,
  ServiceCallReply,
} from '@correio/protocol';

/** Something a participant received live through the proxy, with its Lamport clock right after. */
export type ReceivedEvent =
  | { readonly event: 'publication'; readonly topic: string; readonly publisher: string; readonly seq: number; readonly message: ChatPublication; readonly lc: number }
  | { readonly event: 'direct'; readonly topic: string; readonly publisher: string; readonly seq: number; readonly message: ChatDirect; readonly lc: number }
  | { readonly event: 'gap'; readonly topic: string; readonly publisher: string; readonly lc: number };

/**
 * One chat user in one language, whatever runs it: a Python or Go process driven by JSON lines,
 * or a TypeScript client in the test's own process. Request methods resolve with the reply body
 * and reject with the CorreioError the server (or the participant's library) raised.
 */
export interface Participant {
  /** 'typescript', or the language of a driver (drivers.ts). */
  readonly language: string;
  readonly user: string;
  /** Every event received so far, in arrival order. */
  readonly events: readonly ReceivedEvent[];
  /** Registers the participant's user with a password (servers in password mode). */
  register(password: string): Promise<ChatRegisterReply>;
  /**
   * Logs in, with the password on servers in password mode (none on servers running --auth open),
   * and keeps the access token that every later request then carries as the envelope's auth.
   */
  login(password?: string): Promise<ChatLoginReply>;
  users(): Promise<ChatUsersReply>;
  channels(): Promise<ChatChannelsReply>;
  createChannel(channel: string): Promise<ChatChannelCreateReply>;
  /** Subscribes to the channel's publications (its own user topic is subscribed from the start). */
  join(channel: string): Promise<void>;
  publish(channel: string, text: string): Promise<ChatPublishReply>;
  direct(to: string, text: string): Promise<ChatDirectReply>;
  history(channel: string): Promise<ChatHistoryReply>;
  /** A microservice action: service.call.request to svc.<service>. */
  call(action: string, params: unknown): Promise<ServiceCallReply>;
  /** The participant's Lamport clock now. */
  lc(): Promise<number>;
  close(): Promise<void>;
}

/** The page size the participants read with: enough for every message of a test. */
export const PAGE = 500;
