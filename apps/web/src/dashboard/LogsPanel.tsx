// The cluster's central logs (protocol 1.5, the gateway's GET /v1/logs): the newest lines that match
// the operator's filters, read again every 2 s while the page is visible, newest first like the
// timeline. Errors (a user who is not an operator, a gateway away) are shown here, never thrown.
import type { RefObject } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { LogRecord, LogsQueryReply } from '@correio/protocol';
import { ApiError, type Api } from '../api.js';
import { logLineKey, newLogBook } from './LogBook.js';
import { logQuery, type LogFilter } from './logFilter.js';
import { LogFilters } from './LogFilters.js';
import { LogPoller } from './LogPoller.js';
import { LogRow } from './LogRow.js';

/** The programs `correio` runs: offered in the program filter before any of their lines is seen. */
const KNOWN_PROGRAMS = ['broker', 'gateway', 'proxy', 'ref', 'server'];

function problemOf(error: unknown): string {
  if (error instanceof ApiError && error.status === 403) return 'Only operators can read the logs: start the servers with --operators <you>, then log in again.';
  const reason = error instanceof ApiError ? `${error.message} (${error.status})` : error instanceof Error ? error.message : String(error);
  return `The logs could not be read: ${reason}. Trying again every 2 s.`;
}

async function readLogs(api: Api, query: string): Promise<LogsQueryReply> {
  const reply = await api.get<LogsQueryReply>(`/v1/logs?${query}`);
  if (!Array.isArray(reply.lines)) throw new Error('the gateway sent no lines');
  return reply;
}

const sortedUnion = (known: readonly string[], more: Iterable<string>) => [...new Set([...known, ...more])].sort();

export function LogsPanel({ api, panel, filter, onFilter, instances }: { api: Api; panel: RefObject<HTMLElement>; filter: LogFilter; onFilter: (filter: LogFilter) => void; instances: readonly string[] }) {
  const book = useMemo(newLogBook, [api]);
  const [lines, setLines] = useState<readonly LogRecord[]>([]);
  const [fresh, setFresh] = useState(0);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const poller = useRef<LogPoller<LogsQueryReply> | undefined>(undefined);
  const query = logQuery(filter);

  useEffect(() => {
    const reader = new LogPoller((next) => readLogs(api, next), {
      reply: (reply) => {
        setFresh(book.add(reply.lines));
        setLines(book.all);
        setProblem(undefined);
      },
      error: (error) => setProblem(problemOf(error)),
    });
    poller.current = reader;
    reader.start(query);
    return () => reader.stop();
  }, [api]);

  useEffect(() => {
    // Lines of another query do not belong under this one.
    book.clear();
    setLines([]);
    setFresh(0);
    poller.current?.setQuery(query);
  }, [query]);

  const filterByRequest = (requestId: string) => onFilter({ ...filter, requestId });
  return (
    <section class="logs-section" id="logs" ref={panel} tabIndex={-1} aria-labelledby="logs-heading">
      <h2 id="logs-heading">Logs</h2>
      <LogFilters filter={filter} onFilter={onFilter} programs={sortedUnion(KNOWN_PROGRAMS, lines.map((line) => line.program))} instances={sortedUnion(instances, lines.map((line) => line.instance))} />
      {problem !== undefined && (
        <p class="log-problem" role="status">
          {problem}
        </p>
      )}
      <p class="log-count" role="status" aria-live="polite">
        {lines.length === 0 ? 'No lines match these filters yet.' : `${lines.length} ${lines.length === 1 ? 'line' : 'lines'}, newest first${fresh > 0 ? ` · ${fresh} new` : ''}`}
      </p>
      {lines.length > 0 && (
        <div class="log-scroll" role="region" aria-label="Log lines" tabIndex={0}>
          <table class="data logs">
            <caption class="visually-hidden">Log lines, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Level</th>
                <th scope="col">Program/instance</th>
                <th scope="col">Message</th>
                <th scope="col">Request</th>
              </tr>
            </thead>
            <tbody>
              {lines.map((line) => (
                <LogRow key={logLineKey(line)} line={line} onRequest={filterByRequest} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
