// The chat page: side bar, the open conversation, the composer, and the connection banner. Messages
// come from history (HTTP, cursor pages) and live from one WebSocket; the store shows each once.
import { useEffect, useMemo, useReducer, useRef, useState } from 'preact/hooks';
import type { ChannelInfo, ChatChannelsReply, ChatConversationReply, ChatDirect, ChatDirectReply, ChatHistoryReply, ChatInboxReply, ChatPublishReply, UserInfo } from '@correio/protocol';
import type { Api } from './api.js';
import { ChatStore, channelKey, directKey, fromDirect, fromPublication, type Message } from './ChatStore.js';
import { Composer } from './Composer.js';
import { ConnectionBanner } from './ConnectionBanner.js';
import { MessageList } from './MessageList.js';
import { Sidebar } from './Sidebar.js';
import { ChatStream, type StreamStatus } from './stream.js';

const PAGE = 50;
/** Channels and people (their last-seen) are read again this often. */
const DIRECTORY_REFRESH_MS = 10_000;

const path = (key: string) => (key.startsWith('#') ? `/v1/channels/${encodeURIComponent(key.slice(1))}/messages` : `/v1/conversations/${encodeURIComponent(key.slice(1))}`);

export function Chat({ api }: { api: Api }) {
  const store = useMemo(() => new ChatStore(), [api]);
  const [, bump] = useReducer((count: number) => count + 1, 0);
  // At most one render a frame however fast messages arrive (100 a second must not mean 100 renders).
  const frame = useRef<number | undefined>(undefined);
  const redraw = () => {
    frame.current ??= requestAnimationFrame(() => {
      frame.current = undefined;
      bump(0);
    });
  };
  useEffect(() => () => cancelAnimationFrame(frame.current ?? 0), []);
  const [channels, setChannels] = useState<ChannelInfo[]>([]);
  const [users, setUsers] = useState<UserInfo[]>([]);
  const [active, setActive] = useState<string | undefined>(undefined);
  const [connection, setConnection] = useState<{ status: StreamStatus; reconnected: boolean }>({ status: 'connecting', reconnected: false });
  const activeKey = useRef(active);
  activeKey.current = active;
  const stream = useRef<ChatStream | undefined>(undefined);

  /** Adds messages; those arriving in a conversation not open, from someone else, count as unread. */
  const receive = (key: string, messages: readonly Message[], live: boolean) => {
    const fresh = store.add(key, messages);
    if (live && key !== activeKey.current) store.conversation(key).unread += fresh.filter((message) => message.author !== api.user).length;
    redraw();
  };

  /** Reads a conversation's latest page: on opening it, and after a reconnect (whatever the stream could not replay). */
  const readLatest = async (key: string, live: boolean) => {
    const reply = await api.get<ChatHistoryReply | ChatConversationReply>(`${path(key)}?limit=${PAGE}`);
    const conversation = store.conversation(key);
    if (!conversation.loaded) conversation.before = reply.next;
    conversation.loaded = true;
    const messages = reply.messages.map((item) => ('channel' in item ? fromPublication(item) : fromDirect(item)));
    if (key.startsWith('#')) for (const message of messages) stream.current?.seen(key.slice(1), message.op);
    receive(key, messages, live);
  };

  /** Direct messages to this user: at the start, and after a reconnect. */
  const readInbox = async (live: boolean) => {
    try {
      const inbox = await api.get<ChatInboxReply>(`/v1/inbox?limit=${PAGE}`);
      for (const direct of inbox.messages) {
        stream.current?.seenDirect(direct.op);
        receive(directKey(direct.from), [fromDirect(direct)], live);
      }
    } catch {
      // offline: the stream's resume and the next reconnect catch up
    }
  };

  useEffect(() => {
    const chatStream = new ChatStream((stale) => api.token(stale), {
      publication: (publication) => receive(channelKey(publication.channel), [fromPublication(publication)], true),
      direct: (direct: ChatDirect) => receive(directKey(direct.from === api.user ? direct.to : direct.from), [fromDirect(direct)], true),
      // Whatever was sent between reading a page and the stream starting is read again: no gap.
      status: (status, reconnected) => {
        setConnection({ status, reconnected });
        if (status !== 'live') return;
        void readInbox(reconnected);
        if (reconnected && activeKey.current?.startsWith('@')) void readLatest(activeKey.current, true).catch(() => undefined);
      },
      subscribed: (channel) => {
        if (store.conversation(channelKey(channel)).loaded) void readLatest(channelKey(channel), true).catch(() => undefined);
      },
    });
    stream.current = chatStream;
    chatStream.start();
    return () => chatStream.stop();
  }, [api]);

  useEffect(() => {
    let stopped = false;
    const load = async () => {
      try {
        const [channelPage, userPage] = await Promise.all([api.get<ChatChannelsReply>('/v1/channels?limit=500'), api.get<{ users: UserInfo[] }>('/v1/users?limit=500')]);
        if (stopped) return;
        setChannels(channelPage.channels);
        setUsers(userPage.users);
        for (const { channel } of channelPage.channels) stream.current?.subscribe(channel);
      } catch {
        // offline or refused: the next round tries again
      }
    };
    void load();
    const timer = setInterval(() => void load(), DIRECTORY_REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [api]);

  const open = (key: string) => {
    setActive(key);
    const conversation = store.conversation(key);
    conversation.unread = 0;
    if (!conversation.loaded) void readLatest(key, false).catch(() => undefined);
    redraw();
  };

  const joinChannel = async (channel: string) => {
    await api.post('/v1/channels', { channel });
    stream.current?.subscribe(channel);
    setChannels((known) => (known.some((info) => info.channel === channel) ? known : [...known, { channel, created_by: api.user, created_at: Date.now() }].sort((a, b) => (a.channel < b.channel ? -1 : 1))));
    open(channelKey(channel));
  };

  const loadOlder = async (key: string) => {
    const conversation = store.conversation(key);
    if (conversation.before === undefined) return;
    const reply = await api.get<ChatHistoryReply | ChatConversationReply>(`${path(key)}?limit=${PAGE}&before=${encodeURIComponent(conversation.before)}`);
    conversation.before = reply.next;
    receive(key, reply.messages.map((item) => ('channel' in item ? fromPublication(item) : fromDirect(item))), false);
  };

  const send = async (key: string, text: string) => {
    if (key.startsWith('#')) {
      const reply = await api.post<ChatPublishReply>(`${path(key)}`, { text });
      // Shown at once; the stream's copy (same op) is then skipped. The reply has no hlc: its wall time orders it meanwhile.
      receive(key, [{ op: reply.op, author: api.user, text, lc: reply.lc, hlc: [reply.ts, 0], ts: reply.ts }], false);
    } else {
      const reply = await api.post<ChatDirectReply>(`/v1/users/${encodeURIComponent(key.slice(1))}/messages`, { text });
      receive(key, [{ op: reply.op, author: api.user, text, lc: reply.lc, hlc: [reply.ts, 0], ts: reply.ts }], false);
    }
  };

  const title = active ? (active.startsWith('#') ? active : `Direct messages with ${active.slice(1)}`) : '';
  return (
    <div class="chat">
      <ConnectionBanner status={connection.status} reconnected={connection.reconnected} />
      <Sidebar user={api.user} channels={channels} users={users} peers={store.directPeers()} active={active} unread={(key) => store.conversation(key).unread} open={open} joinChannel={joinChannel} logOut={() => api.logOut()} />
      <main class="conversation-view">
        {active ? (
          <>
            <h1>{title}</h1>
            <MessageList title={title} conversation={store.conversation(active)} loadOlder={() => loadOlder(active)} />
            <Composer key={active} label={active.startsWith('#') ? `Message ${active}` : `Message ${active.slice(1)}`} send={(text) => send(active, text)} />
          </>
        ) : (
          <p class="empty">Pick a channel or a person, or join a channel.</p>
        )}
      </main>
    </div>
  );
}
