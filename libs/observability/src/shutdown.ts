import type { Logger } from 'pino';

/** Work to do before the process exits: stop accepting, drain, close sockets. */
export type ShutdownHandler = (signal: string) => void | Promise<void>;

export interface ShutdownOptions {
  /** How long the handlers together may take before the process exits anyway. Defaults to 5 s. */
  readonly drainMs?: number;
  /** Defaults to SIGTERM and SIGINT. */
  readonly signals?: readonly NodeJS.Signals[];
  readonly logger?: Logger;
  /** Called with the exit code once the handlers finish or the drain time runs out; defaults to process.exit. */
  readonly exit?: (code: number) => void;
}

interface Registration {
  readonly handler: ShutdownHandler;
}

const registrations: Registration[] = [];
let settings: Required<Omit<ShutdownOptions, 'logger'>> & { logger?: Logger } = {
  drainMs: 5_000,
  signals: ['SIGTERM', 'SIGINT'],
  exit: (code) => process.exit(code),
};
let installedSignals: NodeJS.Signals[] = [];
let shuttingDown: Promise<number> | undefined;

/**
 * Runs `handler` on SIGTERM/SIGINT, then exits: 0 when every handler finished within the drain
 * time, 1 when one failed or the time ran out. A second signal exits at once (an impatient operator
 * wins). Handlers run in reverse order of registration, like a stack of resources.
 * Returns a function that unregisters the handler.
 */
export function onShutdown(handler: ShutdownHandler, options: ShutdownOptions = {}): () => void {
  settings = {
    ...settings,
    ...(options.drainMs !== undefined ? { drainMs: options.drainMs } : {}),
    ...(options.signals ? { signals: options.signals } : {}),
    ...(options.exit ? { exit: options.exit } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  };
  const registration: Registration = { handler };
  registrations.push(registration);
  installSignals();
  return () => {
    const index = registrations.indexOf(registration);
    if (index >= 0) registrations.splice(index, 1);
    if (registrations.length === 0) uninstallSignals();
  };
}

/** Starts the shutdown as if a signal had arrived; resolves with the exit code once exit was called. */
export function shutdown(reason = 'shutdown'): Promise<number> {
  shuttingDown ??= drain(reason);
  return shuttingDown;
}

/** True once a shutdown has begun: servers use it to refuse new work and to report not-ready. */
export function isShuttingDown(): boolean {
  return shuttingDown !== undefined;
}

function installSignals(): void {
  if (installedSignals.length > 0) uninstallSignals();
  installedSignals = [...settings.signals];
  for (const signal of installedSignals) process.on(signal, onSignal);
}

function uninstallSignals(): void {
  for (const signal of installedSignals) process.off(signal, onSignal);
  installedSignals = [];
}

function onSignal(signal: NodeJS.Signals): void {
  if (shuttingDown) {
    settings.logger?.warn({ signal }, 'second signal during shutdown; exiting now');
    settings.exit(1);
    return;
  }
  settings.logger?.info({ signal, drainMs: settings.drainMs }, 'shutting down');
  void shutdown(signal);
}

async function drain(reason: string): Promise<number> {
  const { drainMs, exit, logger } = settings;
  const handlers = [...registrations].reverse();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), drainMs);
  });
  const work = (async () => {
    let failed = false;
    for (const { handler } of handlers) {
      try {
        await handler(reason);
      } catch (error) {
        failed = true;
        logger?.error({ err: error }, 'shutdown handler failed');
      }
    }
    return failed ? 'failed' : 'done';
  })();
  const outcome = await Promise.race([work, timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') logger?.error({ drainMs }, 'shutdown did not finish within the drain time; exiting anyway');
  const code = outcome === 'done' ? 0 : 1;
  exit(code);
  return code;
}
