import { CorreioError } from '@correio/codec';
import { createLogger } from '@correio/observability';
import { randomBytes } from 'node:crypto';
import { ChatClient } from './ChatClient.js';
import { ChatSession, type PasswordChange } from './ChatSession.js';
import type { InteractiveSettings } from './cli.js';
import { JsonUi } from './JsonUi.js';
import type { StampedSessionEvent } from './SessionEvent.js';
import { TerminalUi } from './TerminalUi.js';

/** Signals that end a session cleanly (a second one is left to Node's default: exit at once). */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs the interactive client, or the JSON mode. Resolves with the exit status once the session
 * ended; throws (status 1 with the message) when it cannot start, e.g. the broker is unreachable.
 */
export async function runChat(settings: InteractiveSettings): Promise<number> {
  return settings.json ? runJson(settings) : runTerminal(settings);
}

async function runTerminal(settings: InteractiveSettings): Promise<number> {
  const ui = new TerminalUi();
  const user = settings.user ?? (await ui.askName());
  if (user === undefined) {
    ui.close();
    throw new Error('no user name given: pass --user <name>');
  }
  const password = settings.password ?? (await ui.askPassword(settings.register ? `Choose a password for ${user} (8+ characters): ` : `Password for ${user} (empty on a server in open mode): `));
  ui.print([`connecting to the broker at ${settings.broker} as ${user}…`]);
  return runSession({ ...settings, ...(password !== undefined ? { password } : {}) }, user, {
    show: (event) => ui.show(event),
    onStop: (stop) => ui.onInterrupt(stop),
    attach: (session, client, stop) => ui.attach(session, () => client.lc, stop),
    close: () => ui.close(),
    askPasswords: () => ui.askPasswords(),
  });
}

async function runJson(settings: InteractiveSettings): Promise<number> {
  const ui = new JsonUi();
  if (settings.user === undefined) {
    const message = '--json needs --user <name> (or CORREIO_USER)';
    ui.show({ event: 'error', code: 'USAGE', message, retryable: false, clock: 0, at: Date.now() });
    throw new Error(message);
  }
  return runSession(settings, settings.user, {
    show: (event) => ui.show(event),
    onStop: () => undefined, // stdin is not in raw mode: Ctrl-C is a signal, handled below
    attach: (session, _client, stop) => ui.attach(session, stop),
    close: () => ui.close(),
    reportStartFailure: (failure) => ui.show({ event: 'error', code: failure.code, message: failure.message, retryable: failure.retryable, clock: 0, at: Date.now() }),
  });
}

interface SessionUi {
  show(event: StampedSessionEvent): void;
  /** Called before start-up with what ends the session, for the UI's own quit keys. */
  onStop(stop: () => void): void;
  attach(session: ChatSession, client: ChatClient, stop: () => void): void;
  close(): void;
  reportStartFailure?(failure: CorreioError): void;
  /** /password's questions, where a person can answer them unseen. */
  askPasswords?(): Promise<PasswordChange>;
}

async function runSession(settings: InteractiveSettings, user: string, ui: SessionUi): Promise<number> {
  const logger = createLogger('client', { level: settings.logLevel });
  const client = new ChatClient({
    broker: settings.broker,
    proxy: settings.proxySub,
    service: settings.service,
    from: `client-${user}-${randomBytes(4).toString('base64url')}`,
    timeout: settings.timeout,
    retries: settings.retries,
    ...(settings.curve ? { curve: settings.curve } : {}),
    logger,
  });
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const session = new ChatSession(client, {
    emit: (event) => ui.show(event),
    onQuit: () => stop(),
    connectTimeoutMs: settings.connectTimeout,
    historyOnJoin: settings.history,
    ...(ui.askPasswords ? { askPasswords: () => ui.askPasswords!() } : {}),
  });
  const onSignal = (): void => stop();
  for (const signal of STOP_SIGNALS) process.once(signal, onSignal);
  ui.onStop(() => stop());
  try {
    let outcome: 'started' | 'stopped';
    try {
      const credentials = { register: settings.register, ...(settings.password !== undefined ? { password: settings.password } : {}) };
      const starting = session.start(user, credentials).then(() => 'started' as const);
      starting.catch(() => undefined); // a stop during start-up closes the client under it; that failure is moot
      outcome = await Promise.race([starting, stopped.then(() => 'stopped' as const)]);
    } catch (error) {
      const failure = CorreioError.from(error);
      ui.reportStartFailure?.(failure);
      throw failure;
    }
    if (outcome === 'stopped') return 130; // interrupted while connecting
    ui.attach(session, client, () => stop());
    if (settings.join !== undefined) void session.submit(`/join ${settings.join}`);
    await stopped;
    await session.logout();
    session.end();
    return 0;
  } finally {
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
    ui.close();
    await client.close();
  }
}
