import { CorreioError } from '@correio/codec';

/** The tokens a login or a refresh hands out (protocol 1.1, chat.login.reply / chat.refresh.reply). */
export interface IssuedTokens {
  readonly token: string;
  readonly refresh_token: string;
  /** Access-token expiry, ms since the epoch (the server's clock). */
  readonly expires_at: number;
  readonly refresh_expires_at: number;
}

export interface AuthRenewal {
  /** chat.refresh.request with this refresh token. */
  refresh(refreshToken: string): Promise<IssuedTokens>;
  /** Logs in again (with the password the client was given, if any): the reply's tokens, if it carried any. */
  relogin(): Promise<Partial<IssuedTokens>>;
}

/** Refresh this long before the access token expires, at most: a quarter of its lifetime when that is shorter. */
const REFRESH_MARGIN_MS = 60_000;

/**
 * The access and refresh tokens of a logged-in client, renewed on time: `current()` refreshes once
 * the access token is close to expiry (one refresh at a time, however many requests wait for it),
 * and `renewAfter()` handles an UNAUTHENTICATED reply to a token that has expired (the server's
 * clock may run ahead of ours): refresh, or log in again when the refresh token is spent too. A
 * token refused for any other reason (a logout elsewhere, a password change) is not renewed.
 */
export class AuthTokens {
  readonly #renewal: AuthRenewal;
  readonly #now: () => number;
  #tokens: IssuedTokens | undefined;
  #refreshAt = 0;
  #renewing: Promise<void> | undefined;

  constructor(renewal: AuthRenewal, now: () => number = Date.now) {
    this.#renewal = renewal;
    this.#now = now;
  }

  /** The current access token, if the last login carried one. */
  get token(): string | undefined {
    return this.#tokens?.token;
  }

  get refreshToken(): string | undefined {
    return this.#tokens?.refresh_token;
  }

  get expiresAt(): number | undefined {
    return this.#tokens?.expires_at;
  }

  /** When the next request refreshes the tokens first (before expiresAt); undefined without tokens. */
  get refreshAt(): number | undefined {
    return this.#tokens === undefined ? undefined : this.#refreshAt;
  }

  /** Takes the tokens of a login or refresh reply; a reply without a token (an open-mode 1.0 server) clears them. */
  set(tokens: Partial<IssuedTokens> | undefined): void {
    if (tokens?.token === undefined || tokens.refresh_token === undefined || tokens.expires_at === undefined || tokens.refresh_expires_at === undefined) {
      this.#tokens = undefined;
      return;
    }
    const now = this.#now();
    const lifetime = Math.max(0, tokens.expires_at - now);
    this.#tokens = { token: tokens.token, refresh_token: tokens.refresh_token, expires_at: tokens.expires_at, refresh_expires_at: tokens.refresh_expires_at };
    this.#refreshAt = now + lifetime - Math.min(REFRESH_MARGIN_MS, lifetime / 4);
  }

  clear(): void {
    this.#tokens = undefined;
  }

  /** The access token to send now, refreshed first when it is due. */
  async current(): Promise<string | undefined> {
    const tokens = this.#tokens;
    if (tokens && this.#now() >= this.#refreshAt) {
      try {
        await this.#renew();
      } catch (error) {
        // Refreshing early failed (no server in time, say): the old token serves until it expires.
        if (this.#now() >= tokens.expires_at || this.#tokens !== tokens) throw error;
      }
    }
    return this.#tokens?.token;
  }

  /**
   * After `error` answered a request sent with `sent`: renews the tokens when the token had
   * expired, and resolves true when the request is worth sending again with the new one.
   */
  async renewAfter(error: unknown, sent: string | undefined): Promise<boolean> {
    if (sent === undefined || !(error instanceof CorreioError) || error.code !== 'UNAUTHENTICATED') return false;
    const expired = error.data?.['reason'] === 'expired' || /expired/i.test(error.message) || (this.#tokens !== undefined && this.#now() >= this.#tokens.expires_at);
    if (!expired) return false;
    if (this.#tokens?.token === sent) await this.#renew();
    return this.#tokens !== undefined && this.#tokens.token !== sent;
  }

  #renew(): Promise<void> {
    this.#renewing ??= this.#renewOnce().finally(() => (this.#renewing = undefined));
    return this.#renewing;
  }

  async #renewOnce(): Promise<void> {
    const tokens = this.#tokens;
    if (tokens && this.#now() < tokens.refresh_expires_at) {
      try {
        this.set(await this.#renewal.refresh(tokens.refresh_token));
        return;
      } catch (error) {
        if (!(error instanceof CorreioError) || error.code !== 'UNAUTHENTICATED') throw error;
        // The refresh token expired by the server's clock, or was revoked: a login decides.
      }
    }
    this.set(await this.#renewal.relogin());
  }
}
