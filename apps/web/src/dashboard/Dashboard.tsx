// The operator's dashboard at /dashboard: the topology drawn live, charts over the last five minutes,
// the election and membership timeline, and the details of a selected process or service, all from
// the snapshots of the gateway's /v1/dashboard WebSocket; and the cluster's central logs, read from
// GET /v1/logs; and the task queues, read from GET /v1/tasks. Loaded as its own chunk (see App).
import { useEffect, useMemo, useReducer, useRef, useState } from 'preact/hooks';
import type { DashboardEvent, GatewayDashboard } from '@correio/protocol';
import type { Api } from '../api.js';
import { Chart } from './Chart.js';
import { CHART_SPECS } from './chartSpecs.js';
import { DashboardBanner } from './DashboardBanner.js';
import { DashboardSocket, type DashboardStatus } from './DashboardSocket.js';
import { Details, type Selection } from './Details.js';
import { newEventLog } from './EventLog.js';
import { formatTime } from './format.js';
import { DEFAULT_LOG_FILTER, type LogFilter } from './logFilter.js';
import { LogsPanel } from './LogsPanel.js';
import { SeriesHistory } from './SeriesHistory.js';
import { ServiceList } from './ServiceList.js';
import { Timeline } from './Timeline.js';
import { TasksPanel } from './TasksPanel.js';
import { Topology } from './Topology.js';
import './dashboard.css';

export function Dashboard({ api }: { api: Api }) {
  const histories = useMemo(() => new Map(CHART_SPECS.map((spec) => [spec.id, new SeriesHistory()])), [api]);
  const eventLog = useMemo(newEventLog, [api]);
  const [snapshot, setSnapshot] = useState<GatewayDashboard | undefined>(undefined);
  const [version, bump] = useReducer((count: number) => count + 1, 0);
  const [connection, setConnection] = useState<{ status: DashboardStatus; retryAt?: number }>({ status: 'connecting' });
  const [selection, setSelection] = useState<Selection | undefined>(undefined);
  const details = useRef<HTMLElement>(null);
  const logs = useRef<HTMLElement>(null);
  const [logFilter, setLogFilter] = useState<LogFilter>(DEFAULT_LOG_FILTER);

  useEffect(() => {
    document.title = 'Correio dashboard';
    const socket = new DashboardSocket((stale) => api.token(stale), {
      status: (status, retryAt) => setConnection({ status, ...(retryAt === undefined ? {} : { retryAt }) }),
      snapshot: (next) => {
        for (const spec of CHART_SPECS) histories.get(spec.id)!.push(next.at, spec.sample(next));
        setSnapshot(next);
        bump(0);
      },
      events: (events: readonly DashboardEvent[]) => {
        if (eventLog.add(events) > 0) bump(0);
      },
    });
    socket.start();
    return () => socket.stop();
  }, [api]);

  const select = (next: Selection) => {
    setSelection(next);
    // Move focus to the details so keyboard and screen-reader users land where the change happened.
    requestAnimationFrame(() => details.current?.focus());
  };

  const showLogs = (filter: Partial<LogFilter>) => {
    setLogFilter({ ...DEFAULT_LOG_FILTER, ...filter });
    requestAnimationFrame(() => logs.current?.focus());
  };

  return (
    <div class="dashboard">
      <header class="dashboard-header">
        <h1>Correio dashboard</h1>
        <p class="me">
          {snapshot ? `Gateway ${snapshot.gateway} · snapshot of ${formatTime(snapshot.at)} · ` : ''}
          Signed in as <strong>{api.user}</strong> · <a href="/">Chat</a>{' '}
          <button type="button" class="link" onClick={() => api.logOut()}>
            Log out
          </button>
        </p>
      </header>
      <main class="dashboard-main">
        <DashboardBanner status={connection.status} retryAt={connection.retryAt} lastSnapshot={snapshot?.at} />
        {!snapshot ? (
          connection.status !== 'forbidden' && <p class="empty">Waiting for the first snapshot…</p>
        ) : (
          <>
            <Topology snapshot={snapshot} selected={selection?.kind === 'node' ? selection.id : undefined} onSelect={(id) => select({ kind: 'node', id })} />
            <ServiceList services={snapshot.services} intervalMs={snapshot.interval_ms} selected={selection?.kind === 'service' ? selection.name : undefined} onSelect={(name) => select({ kind: 'service', name })} />
            <Details panel={details} snapshot={snapshot} selection={selection} onClose={() => setSelection(undefined)} onShowLogs={showLogs} />
            <section class="charts" aria-labelledby="charts-heading">
              <h2 id="charts-heading">The last five minutes</h2>
              <div class="chart-grid">
                {CHART_SPECS.map((spec) => (
                  <Chart key={spec.id} spec={spec} history={histories.get(spec.id)!} version={version} />
                ))}
              </div>
            </section>
            <Timeline events={eventLog.all} />
          </>
        )}
        <LogsPanel api={api} panel={logs} filter={logFilter} onFilter={setLogFilter} instances={snapshot?.nodes.map((node) => node.id) ?? []} />
        <TasksPanel api={api} />
      </main>
    </div>
  );
}
