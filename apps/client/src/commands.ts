import { channelNameProblem, textProblem, userNameProblem } from './names.js';

/** Largest page a history or conversation command reads (several requests of at most 500). */
export const MAX_HISTORY = 2_000;
export const DEFAULT_HISTORY = 20;

/** A command line, parsed. */
export type Command =
  | { readonly name: 'say'; readonly text: string }
  | { readonly name: 'channels' }
  | { readonly name: 'users' }
  | { readonly name: 'create'; readonly channel: string }
  | { readonly name: 'join'; readonly channel: string }
  | { readonly name: 'leave'; readonly channel?: string }
  | { readonly name: 'msg'; readonly to: string; readonly text: string }
  | { readonly name: 'history'; readonly count: number }
  | { readonly name: 'conversation'; readonly peer: string; readonly count: number }
  | { readonly name: 'password' }
  | { readonly name: 'help' }
  | { readonly name: 'quit' };

export type CommandName = Command['name'];

/** What parsing a line gave: a command, nothing (a blank line), or why the line is not one. */
export type ParsedLine = { readonly ok: true; readonly command: Command } | { readonly ok: false; readonly command?: string; readonly problem: string } | { readonly ok: 'blank' };

export interface CommandHelp {
  readonly usage: string;
  readonly description: string;
}

export const COMMANDS: readonly CommandHelp[] = [
  { usage: '<text>', description: 'publish <text> on the current channel (start it with // to send a line beginning with /)' },
  { usage: '/join <channel>', description: 'subscribe to a channel, show its recent history and make it the current channel' },
  { usage: '/leave [channel]', description: 'stop receiving a channel (default: the current one)' },
  { usage: '/create <channel>', description: 'create a channel' },
  { usage: '/channels', description: 'list the channels' },
  { usage: '/users', description: 'list the users' },
  { usage: '/msg <user> <text>', description: 'send a direct message' },
  { usage: `/history [n]`, description: `show the last n messages of the current channel (default ${DEFAULT_HISTORY}, at most ${MAX_HISTORY})` },
  { usage: '/conversation <user> [n]', description: 'show the last n direct messages exchanged with <user>' },
  { usage: '/password', description: 'change your password: asks for the current and the new one without showing them' },
  { usage: '/help', description: 'show this help' },
  { usage: '/quit', description: 'leave (also Ctrl-D, Ctrl-C)' },
];

/** Parses one line typed by the user, or read on stdin in JSON mode. */
export function parseCommandLine(line: string): ParsedLine {
  const trimmed = line.trim();
  if (trimmed.length === 0) return { ok: 'blank' };
  if (!trimmed.startsWith('/')) return say(trimmed);
  if (trimmed.startsWith('//')) return say(trimmed.slice(1));
  const [word = '', ...rest] = trimmed.slice(1).split(/\s+/);
  const name = word.toLowerCase();
  const argument = trimmed.slice(1 + word.length).trim();
  const fail = (problem: string): ParsedLine => ({ ok: false, command: name, problem });
  switch (name) {
    case 'channels':
    case 'users':
    case 'help':
      return rest.length === 0 ? { ok: true, command: { name } } : fail(`/${name} takes no argument`);
    case 'password':
      // Never on the command line, where it would show and stay in the line history.
      return rest.length === 0 ? { ok: true, command: { name } } : fail('usage: /password (it asks for the passwords, hidden)');
    case 'quit':
    case 'exit':
      return { ok: true, command: { name: 'quit' } };
    case 'create':
    case 'join': {
      if (rest.length !== 1) return fail(`usage: /${name} <channel>`);
      const problem = channelNameProblem(rest[0]!);
      return problem ? fail(problem) : { ok: true, command: { name, channel: rest[0]! } };
    }
    case 'leave': {
      if (rest.length > 1) return fail('usage: /leave [channel]');
      if (rest.length === 0) return { ok: true, command: { name } };
      const problem = channelNameProblem(rest[0]!);
      return problem ? fail(problem) : { ok: true, command: { name, channel: rest[0]! } };
    }
    case 'msg': {
      const match = /^(\S+)\s+([\s\S]+)$/.exec(argument);
      if (!match) return fail('usage: /msg <user> <text>');
      const problem = userNameProblem(match[1]!) ?? textProblem(match[2]!);
      return problem ? fail(problem) : { ok: true, command: { name, to: match[1]!, text: match[2]! } };
    }
    case 'history': {
      if (rest.length > 1) return fail('usage: /history [n]');
      const count = parseCount(rest[0]);
      return count === undefined ? fail(`n is a whole number from 1 to ${MAX_HISTORY}`) : { ok: true, command: { name, count } };
    }
    case 'conversation': {
      if (rest.length < 1 || rest.length > 2) return fail('usage: /conversation <user> [n]');
      const problem = userNameProblem(rest[0]!);
      if (problem) return fail(problem);
      const count = parseCount(rest[1]);
      return count === undefined ? fail(`n is a whole number from 1 to ${MAX_HISTORY}`) : { ok: true, command: { name, peer: rest[0]!, count } };
    }
    default:
      return fail(`unknown command /${word}; /help lists the commands`);
  }
}

function say(text: string): ParsedLine {
  const problem = textProblem(text);
  return problem ? { ok: false, command: 'say', problem } : { ok: true, command: { name: 'say', text } };
}

function parseCount(value: string | undefined): number | undefined {
  if (value === undefined) return DEFAULT_HISTORY;
  if (!/^\d+$/.test(value)) return undefined;
  const count = Number.parseInt(value, 10);
  return count >= 1 && count <= MAX_HISTORY ? count : undefined;
}
