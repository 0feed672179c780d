// What the Logs panel asks /v1/logs for: the operator's filters as the query of logs.query.request.
import type { LogLevelName } from './logLevels.js';

export interface LogFilter {
  readonly program: string;
  readonly instance: string;
  /** That level and worse. */
  readonly level: LogLevelName;
  readonly contains: string;
  readonly requestId: string;
}

/** Warnings and worse: quiet until something is wrong. */
export const DEFAULT_LOG_FILTER: LogFilter = { program: '', instance: '', level: 'warn', contains: '', requestId: '' };

/** The newest lines first, this many per read. */
export const LOG_PAGE_LINES = 200;

/** The query string of `GET /v1/logs` for `filter` (empty filters left out, as the schema wants). */
export function logQuery(filter: LogFilter): string {
  const query = new URLSearchParams({ order: 'desc', limit: String(LOG_PAGE_LINES), level: filter.level });
  const optional: [string, string][] = [
    ['program', filter.program],
    ['instance', filter.instance],
    ['contains', filter.contains],
    ['request_id', filter.requestId],
  ];
  for (const [name, value] of optional) if (value.trim() !== '') query.set(name, value.trim());
  return query.toString();
}
