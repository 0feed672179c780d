// The dashboard as its own chunk (charts included), loaded only on /dashboard: the chat's first paint does not wait for it.
import type { FunctionComponent } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { Api } from './api.js';
import { ErrorMessage } from './ErrorMessage.js';

type DashboardPage = FunctionComponent<{ api: Api }>;

export function LazyDashboard({ api }: { api: Api }) {
  const [Page, setPage] = useState<DashboardPage | undefined>(undefined);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    import('./dashboard/Dashboard.js').then(
      (module) => setPage(() => module.Dashboard),
      () => setFailed(true),
    );
  }, []);
  if (failed) return <ErrorMessage text="The dashboard could not be loaded: reload the page." />;
  return Page ? <Page api={api} /> : <p class="center">Loading the dashboard…</p>;
}
