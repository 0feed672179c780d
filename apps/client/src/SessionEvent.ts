import type { ChatDirect, ChatPublication } from '@correio/protocol';
import type { ChannelInfo, UserInfo } from './ChatClient.js';
import type { CommandHelp } from './commands.js';

/**
 * What a chat session reports: the reply to each command and every live event. The terminal
 * renders these as text; `--json` writes each as one JSON object per line (README "JSON mode"),
 * so the field names are part of the client's interface. Message fields keep the protocol's
 * names (`op`, `lc`, `hlc`, `ts`, …); `clock` and `at` are added to every event when it is
 * written: the client's own Lamport clock and local time at that moment.
 */
export type SessionEvent =
  /** Logged in. The first event of a session. */
  | {
      readonly event: 'ready';
      readonly user: string;
      readonly created: boolean;
      /** Set when this session registered the user (--register). */
      readonly registered?: true;
      readonly first_seen: number;
      readonly last_seen: number;
      readonly broker: string;
      readonly proxy?: string;
    }
  | { readonly event: 'channels'; readonly channels: readonly ChannelInfo[]; readonly truncated: boolean }
  | { readonly event: 'users'; readonly users: readonly UserInfo[]; readonly truncated: boolean }
  /** Reply to /create: the channel's record; `created` is false when it existed already. */
  | { readonly event: 'channel'; readonly channel: string; readonly created: boolean; readonly created_by: string; readonly created_at: number }
  /** Reply to /join: now subscribed; `messages` is the recent history, oldest first. */
  | { readonly event: 'joined'; readonly channel: string; readonly messages: readonly ChatPublication[] }
  | { readonly event: 'left'; readonly channel: string }
  | { readonly event: 'history'; readonly channel: string; readonly messages: readonly ChatPublication[] }
  | { readonly event: 'conversation'; readonly peer: string; readonly messages: readonly ChatDirect[] }
  /** Reply to a plain line: the server accepted the publication. */
  | { readonly event: 'published'; readonly channel: string; readonly text: string; readonly op: ChatPublication['op']; readonly lc: number; readonly ts: number }
  /** Reply to /password: the password is changed; the client logged in again with it (older tokens stop verifying). */
  | { readonly event: 'password'; readonly user: string; readonly changed_at: number }
  /** Reply to /msg: the server accepted the direct message. */
  | { readonly event: 'sent'; readonly to: string; readonly text: string; readonly op: ChatDirect['op']; readonly lc: number; readonly ts: number }
  /** A publication on a joined channel, received live or (`recovered`) re-read after a loss. */
  | ({ readonly event: 'publication'; readonly recovered?: true } & ChatPublication)
  /** A direct message to this user, received live. */
  | ({ readonly event: 'direct' } & ChatDirect)
  /** Messages lost on the way (sequence gap); for a joined channel the history is re-read and what was missed follows as `recovered` publications. */
  | { readonly event: 'gap'; readonly topic: string; readonly channel?: string; readonly missed: number; readonly publisher: string }
  /** The broker or the proxy went away or came back. */
  | { readonly event: 'connection'; readonly peer: 'broker' | 'proxy'; readonly up: boolean; readonly endpoint: string; readonly message: string }
  /** A command failed (`command` names it), or something in the background did. `code` is a protocol error code, or USAGE for a malformed command. */
  | { readonly event: 'error'; readonly command?: string; readonly code: string; readonly message: string; readonly retryable: boolean }
  | { readonly event: 'help'; readonly commands: readonly CommandHelp[] }
  /** The session ended (/quit, end of input, or a signal). The last event. */
  | { readonly event: 'bye'; readonly user?: string };

export type SessionEventName = SessionEvent['event'];

/** An event as written: with the client's Lamport clock and the local time. */
export type StampedSessionEvent = SessionEvent & { readonly clock: number; readonly at: number };
