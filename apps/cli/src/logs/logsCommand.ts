import { LEVEL_NUMBERS } from '@correio/logs';
import { Command, envOption, InvalidArgumentError, Option, parseDurationMs, parseEndpoint, parsePositiveInt } from '@correio/observability';
import type { BodyOf, LogRecord } from '@correio/protocol';
import { exitQuietlyWhenStdoutCloses } from '../closedStdout.js';
import { explainServiceError, OperatorClient } from '../OperatorClient.js';
import { formatLogRecord } from './formatLogRecord.js';

interface LogsFlags {
  readonly broker: string;
  readonly timeout: number;
  readonly token?: string;
  readonly user?: string;
  readonly password?: string;
  readonly program?: string;
  readonly instance?: string;
  readonly level?: keyof typeof LEVEL_NUMBERS;
  readonly since?: number;
  readonly until?: number;
  readonly request?: string;
  readonly grep?: string;
  readonly limit: number;
  readonly follow?: boolean;
  readonly count?: number;
  readonly json?: boolean;
}

type Query = BodyOf<'logs.query.request'>;

/** Ms between polls while following. */
const FOLLOW_POLL_MS = 500;
/**
 * How far back each poll looks again while following: lines reach the service a few hundred ms
 * after they are written (more when a program ships a backlog), so a poll from the newest time
 * seen would miss a line written earlier but stored later. Lines seen are remembered that long.
 */
const FOLLOW_OVERLAP_MS = 10_000;
/** Pages read per request of lines, at most: a query never runs unbounded. */
const MAX_PAGES = 100;

/**
 * `correio logs`: the central logs (protocol revision 1.5) from a terminal, for an operator. Without
 * --since, the newest --limit lines; with it, every line from then on (at most --limit). --follow
 * then prints new lines as they arrive, until Ctrl-C (or --count lines).
 */
export function logsCommand(): Command {
  return new Command('logs')
    .description("read the cluster's central logs (operators only): filter by program, instance, level, time, text or request id; --follow for new lines")
    .addOption(envOption('--broker <endpoint>', 'the broker (MDP) endpoint', 'CORREIO_BROKER').argParser(parseEndpoint).default('tcp://127.0.0.1:5555'))
    .option('-p, --program <program>', 'only lines of this kind of program (broker, proxy, ref, server, gateway, …)')
    .option('-i, --instance <id>', "only lines of this program's instance (its --id)")
    .addOption(new Option('-l, --level <level>', 'only lines at this level or more severe').choices(Object.keys(LEVEL_NUMBERS)))
    .option('--since <when>', 'only lines written since: a duration back from now (10m, 2h, 1d) or an ISO time', parseWhen)
    .option('--until <when>', 'only lines written before: a duration back from now or an ISO time', parseWhen)
    .option('-r, --request <id>', "only lines about this request id (a request's path across gateway, broker, server and replicas)")
    .option('--grep <text>', 'only lines whose message contains this text')
    .option('-n, --limit <n>', 'at most this many lines (without --since: the newest ones)', parsePositiveInt, 100)
    .option('-f, --follow', 'then print new lines as they arrive, until Ctrl-C')
    .option('--count <n>', 'with --follow: stop after printing this many lines in all', parsePositiveInt)
    .option('--json', 'print each line as the JSON the service returns')
    .addOption(envOption('--token <token>', "an operator's access token", 'CORREIO_TOKEN'))
    .addOption(envOption('--user <name>', 'log in as this operator when no --token is given', 'CORREIO_USER'))
    .addOption(envOption('--password <password>', "the operator's password (the variable keeps it out of the process list)", 'CORREIO_PASSWORD'))
    .addOption(envOption('--timeout <ms>', 'per-attempt request time-out', 'CORREIO_CLIENT_TIMEOUT').argParser(parseDurationMs).default(5_000))
    .action(async (flags: LogsFlags) => {
      exitQuietlyWhenStdoutCloses();
      const client = new OperatorClient({
        broker: flags.broker,
        timeout: flags.timeout,
        ...(flags.token === undefined ? {} : { token: flags.token }),
        ...(flags.user === undefined ? {} : { user: flags.user }),
        ...(flags.password === undefined ? {} : { password: flags.password }),
      });
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await new LogReader(client, flags, stop.signal).run();
      } catch (error) {
        if (!stop.signal.aborted) throw new Error(explainServiceError(error));
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await client.close();
      }
    });
}

/** Prints the lines a `correio logs` asks for, then follows. */
class LogReader {
  readonly #client: OperatorClient;
  readonly #flags: LogsFlags;
  readonly #signal: AbortSignal;
  readonly #color = process.stdout.isTTY === true;
  /** Identities of lines printed within the follow overlap, by time: a line is printed once. */
  readonly #seen = new Map<string, number>();
  #printed = 0;
  #newest = 0;

  constructor(client: OperatorClient, flags: LogsFlags, signal: AbortSignal) {
    this.#client = client;
    this.#flags = flags;
    this.#signal = signal;
  }

  async run(): Promise<void> {
    const { since, limit, follow } = this.#flags;
    if (since === undefined) {
      // The tail: the newest `limit` lines, printed oldest first.
      const reply = await this.#client.request('logs.query.request', { ...this.#filter(), order: 'desc', limit: Math.min(limit, 1000) }, true, this.#signal);
      for (const line of reply.lines.reverse()) this.#print(line);
    } else {
      await this.#readFrom(since, limit);
    }
    if (!follow) return;
    // Bounded by Ctrl-C or --count; each poll reads at most MAX_PAGES pages.
    while (!this.#signal.aborted && !this.#done()) {
      await sleep(FOLLOW_POLL_MS, this.#signal);
      if (this.#signal.aborted) break;
      await this.#readFrom(Math.max(this.#newest - FOLLOW_OVERLAP_MS, since ?? 0), Number.MAX_SAFE_INTEGER).catch((error: unknown) => {
        if (!this.#signal.aborted) process.stderr.write(`correio logs: ${error instanceof Error ? error.message : String(error)}; trying again\n`);
      });
      this.#forgetBefore(this.#newest - FOLLOW_OVERLAP_MS);
    }
  }

  /** Prints the lines from `since`, oldest first, page by page, at most `budget`. */
  async #readFrom(since: number, budget: number): Promise<void> {
    let after: string | undefined;
    let printed = 0;
    for (let page = 0; page < MAX_PAGES && printed < budget && !this.#done(); page++) {
      const query: Query = { ...this.#filter(), since, order: 'asc', limit: Math.min(1000, budget - printed), ...(after === undefined ? {} : { after }) };
      const reply = await this.#client.request('logs.query.request', query, true, this.#signal);
      for (const line of reply.lines) if (this.#print(line)) printed++;
      after = reply.next;
      if (after === undefined) return;
    }
  }

  #filter(): Query {
    const { program, instance, level, until, request, grep } = this.#flags;
    return {
      ...(program === undefined ? {} : { program }),
      ...(instance === undefined ? {} : { instance }),
      ...(level === undefined ? {} : { level }),
      ...(until === undefined ? {} : { until }),
      ...(request === undefined ? {} : { request_id: request }),
      ...(grep === undefined ? {} : { contains: grep }),
    };
  }

  /** Prints a line not printed yet; false when it was (or --count is reached). */
  #print(line: LogRecord): boolean {
    const identity = `${line.program}\u0000${line.instance}\u0000${line.boot}\u0000${line.seq}`;
    if (this.#seen.has(identity) || this.#done()) return false;
    this.#seen.set(identity, line.at);
    this.#newest = Math.max(this.#newest, line.at);
    process.stdout.write(`${this.#flags.json ? JSON.stringify(line) : formatLogRecord(line, this.#color)}\n`);
    this.#printed++;
    return true;
  }

  #done(): boolean {
    return this.#flags.count !== undefined && this.#printed >= this.#flags.count;
  }

  #forgetBefore(time: number): void {
    for (const [identity, at] of this.#seen) if (at < time) this.#seen.delete(identity);
  }
}

/** `10m`, `2h`, `1d` back from now, or an ISO time. */
function parseWhen(value: string): number {
  if (/^\s*\d/.test(value) && !/^\d{4}-/.test(value.trim())) return Date.now() - parseDurationMs(value);
  const at = Date.parse(value);
  if (Number.isNaN(at)) throw new InvalidArgumentError('expected a duration back from now (10m, 2h, 1d) or an ISO time (2026-12-07T10:00:00Z).');
  return at;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
