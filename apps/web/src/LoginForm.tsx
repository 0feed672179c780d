import { useState } from 'preact/hooks';
import { ApiError, logIn, register, type Session } from './api.js';
import { ErrorMessage } from './ErrorMessage.js';

export function LoginForm({ onSession, title = 'Correio chat' }: { onSession: (session: Session) => void; title?: string }) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const user = String(data.get('user') ?? '').trim();
    const password = String(data.get('password') ?? '');
    const creating = (event.submitter as HTMLButtonElement | null)?.value === 'register';
    setBusy(true);
    setError('');
    try {
      if (creating) await register(user, password);
      onSession(await logIn(user, password));
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.message : 'The gateway cannot be reached. Check the connection and try again.');
      setBusy(false);
    }
  };

  return (
    <main class="center">
      <h1>{title}</h1>
      <form class="login" onSubmit={submit} aria-describedby={error ? 'login-error' : undefined}>
        <label for="user">User name</label>
        <input id="user" name="user" autocomplete="username" required maxLength={64} />
        <label for="password">Password (8 characters or more)</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required minLength={8} />
        <div class="buttons">
          <button type="submit" value="login" disabled={busy}>
            Log in
          </button>
          <button type="submit" value="register" disabled={busy}>
            Register
          </button>
        </div>
        <ErrorMessage text={error} id="login-error" />
      </form>
    </main>
  );
}
