import { pino, type Logger, type DestinationStream, type LevelWithSilent } from 'pino';

export type { Logger };
export type LogLevel = LevelWithSilent;

/** Levels a user may name on the command line or in CORREIO_LOG_LEVEL. */
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Quiet by default: an operator opts in to chatter, a library never imposes it. */
export const DEFAULT_LOG_LEVEL: LogLevel = 'warn';

export interface LoggerOptions {
  /** Overrides CORREIO_LOG_LEVEL; defaults to `warn`. */
  readonly level?: string;
  /** Where JSON lines go; defaults to stderr, so stdout stays free for a program's own output. */
  readonly destination?: DestinationStream;
  /** Fields written on every line (such as an instance id). */
  readonly base?: Record<string, unknown>;
}

/** True when `level` names a pino level. */
export function isLogLevel(level: unknown): level is LogLevel {
  return typeof level === 'string' && (LOG_LEVELS as readonly string[]).includes(level);
}

/** The effective level: the explicit option, then CORREIO_LOG_LEVEL, then `warn`; throws on a name pino does not know. */
export function resolveLogLevel(level: string | undefined = undefined, env: NodeJS.ProcessEnv = process.env): LogLevel {
  const chosen = level ?? env['CORREIO_LOG_LEVEL'] ?? DEFAULT_LOG_LEVEL;
  if (!isLogLevel(chosen)) throw new RangeError(`unknown log level ${JSON.stringify(chosen)}; use one of ${LOG_LEVELS.join(', ')}`);
  return chosen;
}

/** The program loggers of this process, for setLogLevel; weakly held, so a dropped logger goes. */
const programLoggers = new Set<WeakRef<Logger>>();

/**
 * Sets the level of every logger createLogger made in this process (their children follow, unless
 * they set their own): how a level changed centrally reaches a running program. Returns how many.
 */
export function setLogLevel(level: LogLevel): number {
  let set = 0;
  for (const ref of programLoggers) {
    const logger = ref.deref();
    if (logger === undefined) programLoggers.delete(ref);
    else {
      logger.level = level;
      set++;
    }
  }
  return set;
}

/** Told every line a program logger writes (the JSON text, newline included). */
export type LogTap = (line: string) => void;

const logTaps = new Set<LogTap>();

/**
 * Adds a tap that sees every line the program loggers of this process write, after it reached
 * their destination: how lines are shipped to the central log service. A tap must be cheap and
 * must not throw (a throwing tap is removed). Returns the function that removes it.
 */
export function addLogTap(tap: LogTap): () => void {
  logTaps.add(tap);
  return () => logTaps.delete(tap);
}

/** A destination that writes to `inner`, then hands the line to the taps. */
function tapped(inner: DestinationStream): DestinationStream {
  return {
    write(line: string) {
      inner.write(line);
      for (const tap of logTaps) {
        try {
          tap(line);
        } catch {
          logTaps.delete(tap); // logging never fails because of a tap
        }
      }
    },
  };
}

/** A structured JSON logger named after its component, writing to stderr. */
export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  const logger = pinoLogger(name, { ...options, destination: tapped(options.destination ?? stderrDestination()) });
  programLoggers.add(new WeakRef(logger));
  return logger;
}

function stderrDestination(): DestinationStream {
  return pino.destination({ fd: 2, sync: true });
}

function pinoLogger(name: string, options: LoggerOptions): Logger {
  const destination = options.destination ?? stderrDestination();
  return pino(
    {
      name,
      level: resolveLogLevel(options.level),
      base: { pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

let libraryRoot: Logger | undefined;

/**
 * The logger of a library component: a child of the application's `logger`, named after the
 * component; without one, a logger that stays silent unless CORREIO_LOG_LEVEL asks for more,
 * because a library must not write to the application's stderr uninvited.
 */
export function componentLogger(component: string, logger?: Logger): Logger {
  if (logger) return logger.child({ component });
  // Not a program logger: a library stays as quiet as CORREIO_LOG_LEVEL says, whatever setLogLevel does.
  libraryRoot ??= pinoLogger('correio', { level: process.env['CORREIO_LOG_LEVEL'] ?? 'silent' });
  return libraryRoot.child({ component });
}
