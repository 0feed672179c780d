// A conversation's messages with infinite scroll: near the top, older messages are shown (first those
// held but not drawn, then the next older page read with the history cursor) and the view keeps its
// place; new messages keep it at the bottom if it was there. Only a window of the newest messages is
// drawn while the view is at the bottom, so a busy channel keeps a small page.
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { Conversation, Message } from './ChatStore.js';

/** Closer than this to the top, older messages are shown. */
const LOAD_OLDER_PX = 120;
const AT_BOTTOM_PX = 48;
/** Messages drawn at the bottom, and added each time the view reaches the top of what is drawn. */
const WINDOW = 200;

const opText = (message: Message) => `${message.op.origin}/${message.op.seq}`;

interface Row {
  readonly title: string;
  readonly iso: string;
  readonly time: string;
}

/** Each message's formatted texts, made once: date formatting is the costly part of a render. */
const rows = new WeakMap<Message, Row>();

function row(message: Message): Row {
  let made = rows.get(message);
  if (!made) {
    const date = new Date(message.ts);
    made = {
      title: `Lamport clock ${message.lc} · origin server ${message.op.origin} (op ${message.op.seq}) · ${date.toLocaleString()}`,
      iso: date.toISOString(),
      time: date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }),
    };
    rows.set(message, made);
  }
  return made;
}

export function MessageList({ title, conversation, loadOlder }: { title: string; conversation: Conversation; loadOlder: () => Promise<void> }) {
  const view = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  /** Where the view was last pinned to the bottom: a scroll event above it is the user's, not new rows'. */
  const pinnedAt = useRef(0);
  const heightBeforeOlder = useRef<number | undefined>(undefined);
  const [loading, setLoading] = useState(false);
  /** The first message drawn while the view is away from the bottom, so what arrives does not move it. */
  const anchor = useRef<string | undefined>(undefined);
  const [, setShown] = useState(0);
  const all = conversation.messages;
  const anchored = atBottom.current || anchor.current === undefined ? -1 : all.findIndex((message) => opText(message) === anchor.current);
  const start = anchored >= 0 ? anchored : Math.max(0, all.length - WINDOW);
  const messages = start === 0 ? all : all.slice(start);
  const first = messages[0] ? opText(messages[0]) : '';
  const last = messages.at(-1) ? opText(messages.at(-1)!) : '';
  useLayoutEffect(() => {
    anchor.current = undefined;
  }, [title]);

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
    if (!element || !atBottom.current) return;
    element.scrollTop = element.scrollHeight;
    pinnedAt.current = element.scrollTop;
  }, [last, title]);

  /** Draws from `message` on, away from the bottom (also when the button, not a scroll, asked). */
  const drawFrom = (message: Message) => {
    atBottom.current = false;
    pinnedAt.current = Number.POSITIVE_INFINITY;
    anchor.current = opText(message);
  };

  const older = async () => {
    if (start > 0) {
      // Held but not drawn yet: draw the next window up, keeping the view where it is.
      heightBeforeOlder.current = view.current?.scrollHeight;
      drawFrom(all[Math.max(0, start - WINDOW)]!);
      setShown((count) => count + 1);
      return;
    }
    if (loading || conversation.before === undefined) return;
    setLoading(true);
    heightBeforeOlder.current = view.current?.scrollHeight;
    try {
      await loadOlder();
      // The page read is drawn whole (it is at most a page), before the render it asked for.
      if (conversation.messages[0]) drawFrom(conversation.messages[0]);
    } finally {
      setLoading(false);
    }
  };

  const onScroll = () => {
    const element = view.current!;
    // Rows added after the view was pinned leave it above the bottom without anyone scrolling.
    atBottom.current = element.scrollTop >= pinnedAt.current || element.scrollHeight - element.scrollTop - element.clientHeight < AT_BOTTOM_PX;
    if (atBottom.current) {
      anchor.current = undefined;
    } else {
      anchor.current ??= first;
      // Pinned again only by reaching the bottom; keeping the place when rows are added above moves scrollTop too.
      pinnedAt.current = Number.POSITIVE_INFINITY;
    }
    if (element.scrollTop < LOAD_OLDER_PX) void older();
  };

  return (
    <div class="messages" ref={view} onScroll={onScroll} role="log" aria-label={`Messages in ${title}`} tabIndex={0}>
      {(start > 0 || conversation.before !== undefined) && (
        <button class="older" type="button" onClick={() => void older()} disabled={loading}>
          {loading ? 'Loading older messages…' : 'Load older messages'}
        </button>
      )}
      {conversation.loaded && all.length === 0 && <p class="empty">No messages yet. Say hello!</p>}
      <ol>
        {messages.map((message) => {
          const { title: details, iso, time } = row(message);
          return (
            <li key={opText(message)} class="message" title={details} data-op={opText(message)}>
              <span class="author">{message.author}</span>{' '}
              <time dateTime={iso}>{time}</time>
              <p class="text">{message.text}</p>
            </li>
          );
        })}
      </ol>
    </div>
  );
}
