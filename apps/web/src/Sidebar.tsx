// Channels (with unread counts), the channel form, and people (presence from last-seen; a click opens
// direct messages).
import { useState } from 'preact/hooks';
import type { ChannelInfo, UserInfo } from '@correio/protocol';
import { channelKey, directKey } from './ChatStore.js';
import { isActive, lastSeenText } from './presence.js';
import { ErrorMessage } from './ErrorMessage.js';

export interface SidebarProps {
  readonly user: string;
  readonly channels: readonly ChannelInfo[];
  readonly users: readonly UserInfo[];
  /** Direct conversations, by peer. */
  readonly peers: readonly string[];
  readonly active: string | undefined;
  readonly unread: (key: string) => number;
  readonly open: (key: string) => void;
  readonly joinChannel: (channel: string) => Promise<void>;
  readonly logOut: () => void;
}

function Unread({ count }: { count: number }) {
  return count > 0 ? (
    <span class="unread">
      {count}
      <span class="visually-hidden"> unread</span>
    </span>
  ) : null;
}

export function Sidebar(props: SidebarProps) {
  const [name, setName] = useState('');
  const [error, setError] = useState('');
  const now = Date.now();
  const seen = new Map(props.users.map((user) => [user.user, user.last_seen]));
  const people = [...new Set([...props.users.map((user) => user.user), ...props.peers])].filter((user) => user !== props.user).sort();

  const join = async (event: Event) => {
    event.preventDefault();
    setError('');
    try {
      await props.joinChannel(name.trim());
      setName('');
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : 'The channel could not be created.');
    }
  };

  return (
    <nav class="sidebar" aria-label="Conversations">
      <p class="me">
        Signed in as <strong>{props.user}</strong>{' '}
        <button type="button" class="link" onClick={props.logOut}>
          Log out
        </button>{' '}
        · <a href="/dashboard">Dashboard</a>
      </p>
      <h2 id="channels-heading">Channels</h2>
      <ul aria-labelledby="channels-heading">
        {props.channels.map(({ channel }) => (
          <li key={channel}>
            <button type="button" class="conversation" aria-current={props.active === channelKey(channel) ? 'page' : undefined} onClick={() => props.open(channelKey(channel))}>
              #{channel} <Unread count={props.unread(channelKey(channel))} />
            </button>
          </li>
        ))}
      </ul>
      <form class="join" onSubmit={join}>
        <label for="channel-name">Join or create a channel</label>
        <input id="channel-name" value={name} required maxLength={128} onInput={(event) => setName(event.currentTarget.value)} />
        <button type="submit">Join</button>
        <ErrorMessage text={error} />
      </form>
      <h2 id="people-heading">People</h2>
      <ul aria-labelledby="people-heading">
        {people.map((user) => {
          const lastSeen = seen.get(user);
          const active = lastSeen !== undefined && isActive(lastSeen, now);
          return (
            <li key={user}>
              <button type="button" class="conversation" aria-current={props.active === directKey(user) ? 'page' : undefined} onClick={() => props.open(directKey(user))}>
                <span class={`presence ${active ? 'active' : ''}`} aria-hidden="true" />
                {user} <span class="seen">{lastSeen === undefined ? '' : lastSeenText(lastSeen, now)}</span> <Unread count={props.unread(directKey(user))} />
              </button>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}
