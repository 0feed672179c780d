import {
  Command,
  InvalidArgumentError,
  LOG_LEVELS,
  addCurveClientOptions,
  curveClientKeys,
  envOption,
  parseDurationMs,
  parseEndpoint,
  parseNonNegativeInt,
  parsePositiveInt,
  type CurveClientKeySet,
} from '@correio/observability';
import { generateCurveKeyPair } from '@correio/transport';
import { MAX_BOT_USERS } from './bot/runBot.js';
import { passwordProblem, userNameProblem } from './names.js';

/** Connection settings every mode takes. */
export interface ConnectionSettings {
  readonly broker: string;
  /** The proxy's subscriber (XPUB) side. */
  readonly proxySub: string;
  readonly service: string;
  readonly timeout: number;
  readonly retries: number;
  readonly logLevel: string;
  /** CURVE keys for the broker and proxy sockets; plaintext when absent. */
  readonly curve?: CurveClientKeySet;
}

export interface InteractiveSettings extends ConnectionSettings {
  readonly user?: string;
  /** The user's password (servers in password mode need one); asked for in a terminal when absent. */
  readonly password?: string;
  /** Register the user first. */
  readonly register: boolean;
  readonly join?: string;
  readonly json: boolean;
  readonly connectTimeout: number;
  readonly history: number;
}

export interface BotSettings extends ConnectionSettings {
  readonly users: number;
  readonly rate: number;
  readonly durationMs?: number;
  readonly messages?: number;
  readonly channels: number;
  readonly directRatio: number;
  readonly userPrefix: string;
  readonly channelPrefix: string;
  readonly maxInFlight: number;
  readonly setupTimeout: number;
  readonly warmup: number;
  readonly settle: number;
  readonly json: boolean;
  readonly quiet: boolean;
}

export interface ClientActions {
  interactive(settings: InteractiveSettings): Promise<number>;
  bot(settings: BotSettings): Promise<number>;
}

const CONNECTION_KEYS = ['broker', 'proxySub', 'service', 'timeout', 'retries', 'logLevel'] as const;

/**
 * The `correio-client` command line: the interactive client (or `--json` for scripts) by default,
 * `bot` for generated traffic. Every flag also reads a CORREIO_* variable; a flag wins over its
 * variable, the variable over the default. Actions resolve with the exit status.
 */
export function clientCommand(actions: ClientActions, onExit: (code: number) => void): Command {
  const program = addConnectionOptions(
    new Command('correio-client')
      .description(
        'Correio chat client. Interactive by default: log in, /join a channel, type to publish; /help lists the commands. ' +
          'With --json, reads the same commands as lines on stdin and writes one JSON object per event on stdout.',
      )
      .enablePositionalOptions()
      .addOption(envOption('--user <name>', 'log in as this user (asked for when absent; required with --json)', 'CORREIO_USER').argParser(parseUserName))
      .addOption(envOption('--password <password>', "the user's password, 8+ characters (asked for, hidden, in a terminal when absent; the variable keeps it out of the process list)", 'CORREIO_PASSWORD'))
      .addOption(envOption('--register', 'create the account first (a new user name, with --password or the prompt)', 'CORREIO_REGISTER').default(false))
      .addOption(envOption('--join <channel>', 'join this channel once logged in', 'CORREIO_JOIN'))
      .addOption(envOption('--json', 'scripted mode: commands on stdin, JSON events on stdout', 'CORREIO_JSON').default(false))
      .addOption(envOption('--connect-timeout <ms>', 'how long to wait for the broker at start before giving up', 'CORREIO_CONNECT_TIMEOUT').argParser(parseDurationMs).default(5_000))
      .addOption(envOption('--history <n>', `messages shown on /join (1–500)`, 'CORREIO_HISTORY').argParser(rangeInt(1, 500)).default(20)),
  );
  program.action(async (raw: Record<string, unknown>) => {
    // Checked here rather than by an argument parser, whose error message would quote the password.
    const problem = typeof raw['password'] === 'string' ? passwordProblem(raw['password']) : undefined;
    if (problem) program.error(`error: option '--password <password>' is invalid: ${problem}.`);
    const curve = curveClientKeys(program, generateCurveKeyPair);
    onExit(await actions.interactive({ ...(raw as unknown as InteractiveSettings), ...(curve ? { curve } : {}) }));
  });

  const bot = addConnectionOptions(
    new Command('bot')
      .description(
        'Generate chat traffic: N bot users log in, create and join channels, and publish and send direct messages at an aggregate rate, ' +
          'for a duration or a number of messages (10 s when neither is given); then report sent, acknowledged, failed and received, ' +
          'with latency p50/p99. Ctrl-C stops early and still reports.',
      )
      .addOption(envOption('--users <n>', `bot users (1–${MAX_BOT_USERS})`, 'CORREIO_BOT_USERS').argParser(rangeInt(1, MAX_BOT_USERS)).default(10))
      .addOption(envOption('--rate <r>', 'messages per second, all users together', 'CORREIO_BOT_RATE').argParser(parsePositiveNumber).default(20))
      .addOption(envOption('--duration <s>', 'stop after this long (seconds, or 500ms, 2m)', 'CORREIO_BOT_DURATION').argParser(parseSeconds))
      .addOption(envOption('--messages <m>', 'stop after this many messages', 'CORREIO_BOT_MESSAGES').argParser(parsePositiveInt))
      .addOption(envOption('--channels <k>', 'channels the users share', 'CORREIO_BOT_CHANNELS').argParser(rangeInt(1, 1000)).default(3))
      .addOption(envOption('--direct-ratio <x>', 'share of direct messages, 0–1', 'CORREIO_BOT_DIRECT_RATIO').argParser(parseRatio).default(0.2))
      .addOption(envOption('--user-prefix <p>', 'user names are <p>-<run>-<n>', 'CORREIO_BOT_USER_PREFIX').default('bot'))
      .addOption(envOption('--channel-prefix <p>', 'channel names are <p>-<n>', 'CORREIO_BOT_CHANNEL_PREFIX').default('room'))
      .addOption(envOption('--max-in-flight <n>', 'requests in flight at most (the rate yields to it)', 'CORREIO_BOT_MAX_IN_FLIGHT').argParser(parsePositiveInt).default(1_000))
      .addOption(envOption('--setup-timeout <ms>', 'how long setup waits for the broker, proxy and chat service', 'CORREIO_BOT_SETUP_TIMEOUT').argParser(parseDurationMs).default(30_000))
      .addOption(envOption('--warmup <ms>', 'pause after subscribing, before sending', 'CORREIO_BOT_WARMUP').argParser(parseNonNegativeMs).default(500))
      .addOption(envOption('--settle <ms>', 'wait for messages in transit after the last send', 'CORREIO_BOT_SETTLE').argParser(parseNonNegativeMs).default(1_000))
      .addOption(envOption('--json', 'print the report as one JSON object', 'CORREIO_BOT_JSON').default(false))
      .addOption(envOption('--quiet', 'no progress lines on stderr', 'CORREIO_BOT_QUIET').default(false)),
  );
  bot.action(async (raw: Record<string, unknown>) => {
    // Connection flags given before `bot` (correio-client --broker … bot) apply too, unless repeated after it.
    const merged: Record<string, unknown> = { ...raw };
    for (const key of CONNECTION_KEYS) {
      if (bot.getOptionValueSource(key) === 'default' && program.getOptionValueSource(key) !== 'default') merged[key] = program.opts()[key];
    }
    const settings = merged as unknown as BotSettings & { duration?: number };
    const { duration, ...rest } = settings;
    // CURVE flags after `bot` win; else those given before it.
    const curve = curveClientKeys(bot, generateCurveKeyPair) ?? curveClientKeys(program, generateCurveKeyPair);
    onExit(await actions.bot({ ...rest, ...(curve ? { curve } : {}), ...(duration !== undefined ? { durationMs: duration } : {}) }));
  });
  program.addCommand(bot);
  return program;
}

function addConnectionOptions(command: Command): Command {
  return addCurveClientOptions(command, 'CORREIO_CLIENT')
    .addOption(envOption('--broker <endpoint>', 'the broker (MDP) endpoint', 'CORREIO_BROKER').argParser(parseEndpoint).default('tcp://127.0.0.1:5555'))
    .addOption(envOption('--proxy-sub <endpoint>', "the proxy's subscriber (XPUB) endpoint, for live messages", 'CORREIO_PROXY_SUB').argParser(parseEndpoint).default('tcp://127.0.0.1:5571'))
    .addOption(envOption('--service <name>', 'broker service of the chat requests (srv.<id> talks to one server)', 'CORREIO_CHAT_SERVICE').default('chat'))
    .addOption(envOption('--timeout <ms>', 'per-attempt request time-out', 'CORREIO_CLIENT_TIMEOUT').argParser(parseDurationMs).default(3_000))
    .addOption(envOption('--retries <n>', 'retries per request, same request id, with backoff', 'CORREIO_CLIENT_RETRIES').argParser(parseNonNegativeInt).default(3))
    .addOption(envOption('--log-level <level>', 'log verbosity (JSON lines on stderr)', 'CORREIO_LOG_LEVEL').choices(LOG_LEVELS).default('error'));
}

function parseUserName(value: string): string {
  const problem = userNameProblem(value);
  if (problem) throw new InvalidArgumentError(`${problem}.`);
  return value;
}

function rangeInt(min: number, max: number): (value: string) => number {
  return (value) => {
    if (!/^\s*\d+\s*$/.test(value)) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}.`);
    const n = Number.parseInt(value, 10);
    if (n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}.`);
    return n;
  };
}

function parsePositiveNumber(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+(\.\d+)?\s*$/.test(value) || !(n > 0)) throw new InvalidArgumentError('expected a positive number such as 20 or 0.5.');
  return n;
}

function parseRatio(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+(\.\d+)?\s*$/.test(value) || n > 1) throw new InvalidArgumentError('expected a number from 0 to 1.');
  return n;
}

/** A duration whose bare number means seconds (`--duration 30`); `500ms`, `2.5s`, `1m` work too. */
function parseSeconds(value: string): number {
  return /^\s*\d+(\.\d+)?\s*$/.test(value) ? parseDurationMs(`${value}s`) : parseDurationMs(value);
}

function parseNonNegativeMs(value: string): number {
  return /^\s*0\s*(ms|s|m)?\s*$/.test(value) ? 0 : parseDurationMs(value);
}
