import type { ChatDirect, ChatPublication } from '@correio/protocol';
import { styleText } from 'node:util';
import type { StampedSessionEvent } from './SessionEvent.js';

type Style = Parameters<typeof styleText>[0];

/** Turns session events into the lines the terminal shows; colours only when asked. */
export class TerminalFormat {
  readonly #colour: boolean;
  readonly #me: () => string | undefined;

  constructor(options: { readonly colour: boolean; readonly me: () => string | undefined }) {
    this.#colour = options.colour;
    this.#me = options.me;
  }

  /** The lines for one event; none for events the terminal does not show. */
  lines(event: StampedSessionEvent): string[] {
    switch (event.event) {
      case 'ready':
        return [
          event.registered
            ? `Registered and logged in as ${this.#paint('bold', event.user)}: welcome.`
            : event.created
              ? `Logged in as ${this.#paint('bold', event.user)}: welcome, first time here.`
              : `Logged in as ${this.#paint('bold', event.user)}: welcome back (first seen ${dateTime(event.first_seen)}).`,
          this.#paint('dim', 'Type /help for the commands, /join <channel> to start talking.'),
        ];
      case 'publication':
        return [this.publication(event, event.recovered === true)];
      case 'published':
        return [this.publication({ channel: event.channel, user: this.#me() ?? '?', text: event.text, lc: event.lc, ts: event.ts })];
      case 'direct':
        return [this.direct(event)];
      case 'sent':
        return [this.direct({ from: this.#me() ?? '?', to: event.to, text: event.text, lc: event.lc, ts: event.ts })];
      case 'joined':
        return [
          this.#notice(`joined #${event.channel}${event.messages.length === 0 ? ' (no messages yet)' : `; the last ${event.messages.length} message(s):`}`),
          ...event.messages.map((message) => this.publication(message)),
        ];
      case 'left':
        return [this.#notice(`left #${event.channel}`)];
      case 'password':
        return [this.#notice(`password changed for ${event.user}; logged in again with the new one (other sessions must log in again)`)];
      case 'history':
        return event.messages.length === 0
          ? [this.#notice(`#${event.channel} has no messages yet`)]
          : [this.#notice(`the last ${event.messages.length} message(s) of #${event.channel}:`), ...event.messages.map((message) => this.publication(message))];
      case 'conversation':
        return event.messages.length === 0
          ? [this.#notice(`no direct messages with ${event.peer} yet`)]
          : [this.#notice(`the last ${event.messages.length} direct message(s) with ${event.peer}:`), ...event.messages.map((message) => this.direct(message))];
      case 'channel':
        return [this.#notice(event.created ? `created #${event.channel}; /join ${event.channel} to enter it` : `#${event.channel} already exists (created by ${event.created_by} on ${dateTime(event.created_at)}); /join ${event.channel} to enter it`)];
      case 'channels':
        if (event.channels.length === 0) return [this.#notice('no channels yet: /create <channel> makes one')];
        return [
          this.#notice(`${event.channels.length} channel(s)${event.truncated ? ' (more not shown)' : ''}:`),
          ...event.channels.map((c) => `  ${this.#paint('cyan', `#${c.channel}`)}  ${this.#paint('dim', `created by ${c.created_by} on ${dateTime(c.created_at)}`)}`),
        ];
      case 'users':
        return [
          this.#notice(`${event.users.length} user(s)${event.truncated ? ' (more not shown)' : ''}:`),
          ...event.users.map((u) => `  ${this.#paint('bold', u.user)}  ${this.#paint('dim', `last seen ${dateTime(u.last_seen)}`)}`),
        ];
      case 'gap':
        return [this.#warning(`${event.missed} message(s) lost on ${event.channel !== undefined ? `#${event.channel}` : event.topic}${event.channel !== undefined ? '; re-reading the history to recover them' : ''}`)];
      case 'connection':
        return [event.up ? this.#notice(event.message) : this.#warning(event.message)];
      case 'error':
        return [this.#paint('red', `error: ${event.message}`)];
      case 'help':
        return ['Commands:', ...event.commands.map((c) => `  ${c.usage.padEnd(26)} ${c.description}`)];
      case 'bye':
        return [this.#notice('bye')];
    }
  }

  /** `12:03:04 #general ana: hello  (lc 12)` */
  publication(message: Pick<ChatPublication, 'channel' | 'user' | 'text' | 'lc' | 'ts'>, recovered = false): string {
    const suffix = this.#paint('dim', `(lc ${message.lc}${recovered ? ', recovered' : ''})`);
    return `${this.#paint('dim', clockTime(message.ts))} ${this.#paint('cyan', `#${message.channel}`)} ${this.#paint('bold', message.user)}: ${message.text}  ${suffix}`;
  }

  /** `12:03:04 [direct] ana → bob: hi  (lc 14)` */
  direct(message: Pick<ChatDirect, 'from' | 'to' | 'text' | 'lc' | 'ts'>): string {
    return `${this.#paint('dim', clockTime(message.ts))} ${this.#paint('magenta', '[direct]')} ${this.#paint('bold', message.from)} → ${message.to}: ${message.text}  ${this.#paint('dim', `(lc ${message.lc})`)}`;
  }

  #notice(text: string): string {
    return this.#paint('dim', `-- ${text}`);
  }

  #warning(text: string): string {
    return this.#paint('yellow', `!! ${text}`);
  }

  #paint(style: Style, text: string): string {
    return this.#colour ? styleText(style, text) : text;
  }
}

/** `HH:MM:SS`, with the date in front when it is not today. */
export function clockTime(ms: number, now = Date.now()): string {
  const date = new Date(ms);
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  return new Date(now).toDateString() === date.toDateString() ? time : `${day(date)} ${time}`;
}

function dateTime(ms: number): string {
  const date = new Date(ms);
  return `${day(date)} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function day(date: Date): string {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
