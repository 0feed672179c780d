import { pino, type Logger } from 'pino';

export type { Logger };

let root: Logger | undefined;

/** The logger a component uses when the application gives none: quiet unless CORREIO_LOG_LEVEL asks for more. */
export function componentLogger(component: string, logger?: Logger): Logger {
  if (logger) return logger.child({ component });
  root ??= pino({ name: 'correio', level: process.env['CORREIO_LOG_LEVEL'] ?? 'silent' });
  return root.child({ component });
}
