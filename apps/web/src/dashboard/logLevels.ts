// pino's levels (protocol defs.json logLevel / logLevelName): a line's number read as a name.

export const LOG_LEVELS = [
  { name: 'trace', number: 10 },
  { name: 'debug', number: 20 },
  { name: 'info', number: 30 },
  { name: 'warn', number: 40 },
  { name: 'error', number: 50 },
  { name: 'fatal', number: 60 },
] as const;

export type LogLevelName = (typeof LOG_LEVELS)[number]['name'];

/** The name of a pino level number; a number between two levels takes the lower one. */
export function logLevelName(level: number): LogLevelName {
  return [...LOG_LEVELS].reverse().find((candidate) => candidate.number <= level)?.name ?? 'trace';
}
