import { useState } from 'preact/hooks';
import { Api } from './api.js';
import { Chat } from './Chat.js';
import { LazyDashboard } from './LazyDashboard.js';
import { LoginForm } from './LoginForm.js';

/** The pages: the chat at /, the operator's dashboard at /dashboard (the gateway falls back to index.html for both). */
const PAGES = { '/': 'chat', '/dashboard': 'dashboard', '/dashboard/': 'dashboard' } as const;

export function App() {
  const [api, setApi] = useState<Api | undefined>(() => Api.restore(() => setApi(undefined)));
  const page = PAGES[location.pathname as keyof typeof PAGES] as (typeof PAGES)[keyof typeof PAGES] | undefined;
  if (!page) {
    return (
      <main class="center">
        <h1>Page not found</h1>
        <p>
          <a href="/">Go to the chat</a> or <a href="/dashboard">the dashboard</a>
        </p>
      </main>
    );
  }
  if (!api) return <LoginForm title={page === 'dashboard' ? 'Correio dashboard' : 'Correio chat'} onSession={(session) => setApi(new Api(session, () => setApi(undefined)))} />;
  return page === 'dashboard' ? <LazyDashboard api={api} /> : <Chat api={api} />;
}
