// What the chat shows: each conversation's messages (deduplicated by op id, in the protocol's order),
// its history cursor, and unread counts. Channels are `#name`, direct conversations `@peer`.
import type { ChatDirect, ChatPublication, OpId } from '@correio/protocol';

export interface Message {
  readonly op: OpId;
  readonly author: string;
  readonly text: string;
  /** The origin server's Lamport clock. */
  readonly lc: number;
  readonly hlc: readonly unknown[];
  readonly ts: number;
}

export interface Conversation {
  messages: Message[];
  /** The cursor of older history; undefined once the oldest page is read. */
  before: string | undefined;
  /** The first page was read. */
  loaded: boolean;
  unread: number;
}

export const channelKey = (channel: string) => `#${channel}`;
export const directKey = (peer: string) => `@${peer}`;
const opKey = (op: OpId) => `${op.origin}/${op.seq}`;

export const fromPublication = (publication: ChatPublication): Message => ({ op: publication.op, author: publication.user, text: publication.text, lc: publication.lc, hlc: publication.hlc, ts: publication.ts });
export const fromDirect = (direct: ChatDirect): Message => ({ op: direct.op, author: direct.from, text: direct.text, lc: direct.lc, hlc: direct.hlc, ts: direct.ts });

/** The protocol's order: hlc, then origin, then seq. */
function compare(a: Message, b: Message): number {
  const [aWall, aLogical] = a.hlc as [number, number];
  const [bWall, bLogical] = b.hlc as [number, number];
  if (aWall !== bWall) return aWall - bWall;
  if (aLogical !== bLogical) return aLogical - bLogical;
  if (a.op.origin !== b.op.origin) return a.op.origin < b.op.origin ? -1 : 1;
  return a.op.seq - b.op.seq;
}

export class ChatStore {
  private readonly conversations = new Map<string, Conversation>();
  private readonly seen = new Set<string>();

  conversation(key: string): Conversation {
    let conversation = this.conversations.get(key);
    if (!conversation) {
      conversation = { messages: [], before: undefined, loaded: false, unread: 0 };
      this.conversations.set(key, conversation);
    }
    return conversation;
  }

  /** Adds messages not shown yet; returns those. */
  add(key: string, messages: readonly Message[]): Message[] {
    const fresh = messages.filter((message) => !this.seen.has(`${key}|${opKey(message.op)}`));
    if (fresh.length === 0) return fresh;
    for (const message of fresh) this.seen.add(`${key}|${opKey(message.op)}`);
    const conversation = this.conversation(key);
    // Live messages nearly always come last: append them; sort only when one lands in the past.
    const inOrder = fresh.every((message, index) => compare(index === 0 ? conversation.messages.at(-1) ?? message : fresh[index - 1]!, message) <= 0);
    conversation.messages = inOrder ? conversation.messages.concat(fresh) : [...conversation.messages, ...fresh].sort(compare);
    return fresh;
  }

  /** The conversations with unread messages or a direct peer, for the side bar. */
  directPeers(): string[] {
    return [...this.conversations.keys()].filter((key) => key.startsWith('@')).map((key) => key.slice(1));
  }
}
