// A conversation's messages with infinite scroll: near the top, the next older page is read (the
// history cursor) and the view keeps its place; new messages keep it at the bottom if it was there.
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { Conversation, Message } from './ChatStore.js';

/** Closer than this to the top, the older page is read. */
const LOAD_OLDER_PX = 120;
const AT_BOTTOM_PX = 48;

const opText = (message: Message) => `${message.op.origin}/${message.op.seq}`;

function details(message: Message): string {
  return `Lamport clock ${message.lc} · origin server ${message.op.origin} (op ${message.op.seq}) · ${new Date(message.ts).toLocaleString()}`;
}

export function MessageList({ title, conversation, loadOlder }: { title: string; conversation: Conversation; loadOlder: () => Promise<void> }) {
  const view = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const heightBeforeOlder = useRef<number | undefined>(undefined);
  const [loading, setLoading] = useState(false);
  const messages = conversation.messages;
  const first = messages[0] ? opText(messages[0]) : '';
  const last = messages.at(-1) ? opText(messages.at(-1)!) : '';

  useLayoutEffect(() => {
    const element = view.current;
    if (!element) return;
    if (heightBeforeOlder.current !== undefined) {
      element.scrollTop += element.scrollHeight - heightBeforeOlder.current;
      heightBeforeOlder.current = undefined;
    }
  }, [first]);
  useLayoutEffect(() => {
    const element = view.current;
    if (element && atBottom.current) element.scrollTop = element.scrollHeight;
  }, [last, title]);

  const older = async () => {
    if (loading || conversation.before === undefined) return;
    setLoading(true);
    heightBeforeOlder.current = view.current?.scrollHeight;
    try {
      await loadOlder();
    } finally {
      setLoading(false);
    }
  };

  const onScroll = () => {
    const element = view.current!;
    atBottom.current = element.scrollHeight - element.scrollTop - element.clientHeight < AT_BOTTOM_PX;
    if (element.scrollTop < LOAD_OLDER_PX) void older();
  };

  return (
    <div class="messages" ref={view} onScroll={onScroll} role="log" aria-label={`Messages in ${title}`} tabIndex={0}>
      {conversation.before !== undefined && (
        <button class="older" type="button" onClick={() => void older()} disabled={loading}>
          {loading ? 'Loading older messages…' : 'Load older messages'}
        </button>
      )}
      {conversation.loaded && messages.length === 0 && <p class="empty">No messages yet. Say hello!</p>}
      <ol>
        {messages.map((message) => (
          <li key={opText(message)} class="message" title={details(message)} data-op={opText(message)}>
            <span class="author">{message.author}</span>{' '}
            <time dateTime={new Date(message.ts).toISOString()}>{new Date(message.ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}</time>
            <p class="text">{message.text}</p>
          </li>
        ))}
      </ol>
    </div>
  );
}
