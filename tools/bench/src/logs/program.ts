// One program of the central-logs benchmark, run as a child process with an IPC channel: a pino
// logger from createLogger writing JSON lines to stdout (sync, as programs write theirs), and in
// `ship` mode a LogShipper started on it, as a Correio program ships its lines. Once loaded it
// waits for `prepare` (with the broker), makes its logger and shipper and says `ready`; on `go` it
// logs --lines realistic lines as fast as the shipper drains them without dropping (or at
// --rate), waits until every line is acknowledged, and reports its figures.
import { createLogger, Command, Option, parseNonNegativeInt, parsePositiveInt, type Logger } from '@correio/observability';
import { LogShipper } from '@correio/logs';
import { pino } from 'pino';

export type ProgramMode = 'ship' | 'stdout';

/** What a program reports over IPC once its lines are written (and, shipping, acknowledged). */
export interface ProgramResult {
  readonly type: 'result';
  readonly instance: string;
  readonly mode: ProgramMode;
  readonly lines: number;
  /** Shipper figures (0 in stdout mode). */
  readonly shipped: number;
  readonly dropped: number;
  readonly failures: number;
  /** Epoch ms: first line written, last line written, last line acknowledged (= last written in stdout mode). */
  readonly startedAt: number;
  readonly loggedAt: number;
  readonly doneAt: number;
  /** CPU ms (user + system, every thread) from the first line to the last acknowledgement. */
  readonly cpuMs: number;
  /** Ms logging was paused because the shipper held more than --pending-bound lines. */
  readonly pausedMs: number;
  /** Characters written to stdout (the JSON lines). */
  readonly chars: number;
}

/** From the program. */
export type ProgramMessage = { readonly type: 'loaded' } | { readonly type: 'ready' } | ProgramResult | { readonly type: 'failed'; readonly error: string };
/** To the program: `prepare` once, then `go`. */
export type ParentMessage = { readonly type: 'prepare'; readonly broker?: string } | { readonly type: 'go' };

/** Lines written between yields to the event loop (where the shipper's I/O runs). */
const CHUNK = 100;
/** How long to wait while the backlog is over its bound, or for the last acknowledgement. */
const POLL_MS = 5;
/** The longest wait for the last lines to be acknowledged. */
const DRAIN_TIMEOUT_MS = 120_000;

const command = new Command('program')
  .description('one program of bench:logs (run by it, with an IPC channel)')
  .addOption(new Option('--mode <mode>', 'ship (stdout and the LogShipper) or stdout (stdout only)').choices(['ship', 'stdout']).makeOptionMandatory())
  .requiredOption('--instance <id>', 'the instance id the lines are shipped under')
  .option('--lines <n>', 'lines to log', parsePositiveInt, 10_000)
  .option('--rate <n>', 'lines per second at most (0: as fast as the shipper drains)', parseNonNegativeInt, 0)
  .requiredOption('--pending-bound <n>', 'lines waiting in the shipper (in flight included) above which logging pauses', parsePositiveInt)
  .parse();
const options = command.opts<{ mode: ProgramMode; instance: string; lines: number; rate: number; pendingBound: number }>();

const send = (message: ProgramMessage) => new Promise<void>((resolve) => process.send!(message, () => resolve()));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const yieldToIo = () => new Promise((resolve) => setImmediate(resolve));
const nextMessage = <T extends ParentMessage['type']>(type: T) =>
  new Promise<Extract<ParentMessage, { type: T }>>((resolve, reject) =>
    process.once('message', (message: ParentMessage) => (message.type === type ? resolve(message as Extract<ParentMessage, { type: T }>) : reject(new Error(`expected ${type}, got ${message.type}`)))),
  );
const now = () => performance.timeOrigin + performance.now();
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

const MESSAGES = ['message published', 'request served', 'subscription added', 'token verified', 'page of history read'] as const;

/** Line `i`: a message and a few fields as a chat program logs them; every fourth one carries a request id. */
function logLine(logger: Logger, i: number): void {
  const fields = { user: `user-${i % 97}`, channel: `channel-${i % 13}`, bytes: 40 + ((i * 37) % 900), ms: ((i * 7) % 250) / 10, n: i };
  if (i % 4 === 0) logger.info({ ...fields, rid: `req-${options.instance}-${i}` }, MESSAGES[i % MESSAGES.length]!);
  else if (i % 50 === 1) logger.warn({ ...fields, retry: 1 }, 'slow peer: retrying');
  else logger.info(fields, MESSAGES[i % MESSAGES.length]!);
}

async function run(): Promise<ProgramResult> {
  const prepared = nextMessage('prepare');
  await send({ type: 'loaded' });
  const { broker } = await prepared;
  const stdout = pino.destination({ fd: 1, sync: true });
  let chars = 0;
  const counted = {
    write(line: string) {
      chars += line.length;
      stdout.write(line);
    },
  };
  const logger = createLogger('bench-program', { level: 'info', destination: counted });
  if (options.mode === 'ship' && broker === undefined) throw new Error('ship mode needs the broker');
  const shipper = options.mode === 'ship' && broker !== undefined ? new LogShipper({ broker, program: 'bench', instance: options.instance }).start() : undefined;
  const pending = () => shipper?.stats.pending ?? 0;
  const go = nextMessage('go'); // every program starts at once
  await send({ type: 'ready' });
  await go;

  const cpuBefore = cpuMs();
  const startedAt = now();
  let pausedMs = 0;
  for (let written = 0; written < options.lines; ) {
    const end = Math.min(options.lines, written + CHUNK);
    while (written < end) logLine(logger, ++written);
    await yieldToIo();
    // Bounded: the shipper acknowledges or fails each batch within its time-out.
    if (pending() > options.pendingBound) {
      const paused = now();
      while (pending() > options.pendingBound) await sleep(POLL_MS);
      pausedMs += now() - paused;
    }
    if (options.rate > 0) {
      const due = startedAt + (written / options.rate) * 1000;
      if (due > now()) await sleep(due - now());
    }
  }
  const loggedAt = now();
  const drainDeadline = loggedAt + DRAIN_TIMEOUT_MS;
  while (pending() > 0 && now() < drainDeadline) await sleep(POLL_MS);
  const doneAt = now();
  const cpu = cpuMs() - cpuBefore;
  const stats = shipper?.stats;
  await shipper?.close();
  return {
    type: 'result',
    instance: options.instance,
    mode: options.mode,
    lines: options.lines,
    shipped: stats?.shipped ?? 0,
    dropped: stats?.dropped ?? 0,
    failures: stats?.failures ?? 0,
    startedAt,
    loggedAt,
    doneAt,
    cpuMs: cpu,
    pausedMs,
    chars,
  };
}

try {
  await send(await run());
} catch (error) {
  await send({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
}
process.disconnect();
