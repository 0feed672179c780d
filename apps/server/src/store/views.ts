import type { ChatDirect, ChatPublication, Operation } from '@correio/protocol';

type Publish = Extract<Operation, { kind: 'publish' }>;
type Direct = Extract<Operation, { kind: 'direct' }>;

/** A publish operation as readers see it: the chat.publication event and the chat.history.reply item. */
export function publicationOf(op: Publish): ChatPublication {
  return { op: op.op, channel: op.data.channel, user: op.data.user, text: op.data.text, lc: op.lc, hlc: op.hlc, ts: op.hlc[0] };
}

/** A direct operation as readers see it: the chat.direct event and the chat.conversation.reply item. */
export function directOf(op: Direct): ChatDirect {
  return { op: op.op, from: op.data.user, to: op.data.to, text: op.data.text, lc: op.lc, hlc: op.hlc, ts: op.hlc[0] };
}
