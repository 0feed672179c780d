// The gateway's HTTP API (/v1), with the access token refreshed before it expires and once more on a 401.
import type { ChatLoginReply, ChatRefreshReply, ErrorReply } from '@correio/protocol';

export interface Session {
  readonly user: string;
  readonly token: string;
  readonly refreshToken: string;
  /** ms since the epoch */
  readonly expiresAt: number;
}

/** An error answer of the gateway: the protocol's {code, message}. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const STORAGE_KEY = 'correio.session';
/** Refresh this long before the access token expires. */
const REFRESH_MARGIN_MS = 30_000;

async function request<T>(path: string, init: { method?: string; body?: unknown; token?: string }): Promise<T> {
  const headers: Record<string, string> = {};
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  const response = await fetch(path, { method: init.method ?? (init.body === undefined ? 'GET' : 'POST'), headers, ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }) });
  const body = (await response.json().catch(() => ({}))) as unknown;
  if (!response.ok) {
    const error = body as Partial<ErrorReply>;
    throw new ApiError(response.status, error.code ?? 'INTERNAL', error.message ?? `the gateway answered ${response.status}`);
  }
  return body as T;
}

function sessionFrom(user: string, reply: ChatLoginReply | ChatRefreshReply): Session {
  if (!reply.token || !reply.refresh_token || reply.expires_at === undefined) throw new ApiError(500, 'INTERNAL', 'the server sent no token: is it in password mode?');
  return { user, token: reply.token, refreshToken: reply.refresh_token, expiresAt: reply.expires_at };
}

export async function register(user: string, password: string): Promise<void> {
  await request('/v1/register', { body: { user, password } });
}

export async function logIn(user: string, password: string): Promise<Session> {
  return sessionFrom(user, await request<ChatLoginReply>('/v1/login', { body: { user, password } }));
}

/** A session kept in sessionStorage (one per tab), refreshing its tokens as needed. */
export class Api {
  private refreshing: Promise<void> | undefined;

  constructor(
    private session: Session,
    private readonly onSessionEnd: () => void,
  ) {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  }

  static restore(onSessionEnd: () => void): Api | undefined {
    const stored = sessionStorage.getItem(STORAGE_KEY);
    if (!stored) return undefined;
    try {
      return new Api(JSON.parse(stored) as Session, onSessionEnd);
    } catch {
      sessionStorage.removeItem(STORAGE_KEY);
      return undefined;
    }
  }

  get user(): string {
    return this.session.user;
  }

  /** A valid access token, refreshed first when it is about to expire or was refused (`stale`). */
  async token(stale = false): Promise<string> {
    if (stale || Date.now() > this.session.expiresAt - REFRESH_MARGIN_MS) await this.refresh();
    return this.session.token;
  }

  async get<T>(path: string): Promise<T> {
    return this.call<T>(path, {});
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>(path, { body });
  }

  logOut(): void {
    sessionStorage.removeItem(STORAGE_KEY);
    this.onSessionEnd();
  }

  private async call<T>(path: string, init: { body?: unknown }): Promise<T> {
    try {
      return await request<T>(path, { ...init, token: await this.token() });
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401) throw error;
      await this.refresh();
      return request<T>(path, { ...init, token: this.session.token });
    }
  }

  /** One refresh at a time; a refused refresh token ends the session (log in again). */
  private refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const reply = await request<ChatRefreshReply>('/v1/refresh', { body: { refresh_token: this.session.refreshToken } });
        this.session = sessionFrom(this.session.user, reply);
        sessionStorage.setItem(STORAGE_KEY, JSON.stringify(this.session));
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) this.logOut();
        throw error;
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }
}
