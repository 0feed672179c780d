import { useState } from 'preact/hooks';
import { Api } from './api.js';
import { Chat } from './Chat.js';
import { LoginForm } from './LoginForm.js';

/** The chat at /; any other path the gateway falls back to here is not a page of this app. */
export function App() {
  const [api, setApi] = useState<Api | undefined>(() => Api.restore(() => setApi(undefined)));
  if (location.pathname !== '/') {
    return (
      <main class="center">
        <h1>Page not found</h1>
        <p>
          <a href="/">Go to the chat</a>
        </p>
      </main>
    );
  }
  if (!api) return <LoginForm onSession={(session) => setApi(new Api(session, () => setApi(undefined)))} />;
  return <Chat api={api} />;
}
