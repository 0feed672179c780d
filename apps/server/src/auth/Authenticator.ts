import { BadRequestError, ConflictError, ForbiddenError, UnauthenticatedError } from '@correio/codec';
import { LoginLimiter, TokenAuthority, verifyNothing, verifyPassword, type IssuedTokens, type TokenClaims, type TokenFailure } from '@correio/identity';
import type { Logger, MetricsRegistry } from '@correio/observability';
import type { Operation } from '@correio/protocol';
import type { ChatStore } from '../store/ChatStore.js';

/** `password`: every user-acting request needs a token from a password login. `open`: revision 1.0's trust in the body user, for demos. */
export type AuthMode = 'password' | 'open';

/** Why a request was refused UNAUTHENTICATED: the token failures and the server's own checks. */
export type AuthFailure = TokenFailure | 'no_token' | 'open_token' | 'credential_changed' | 'logged_out' | 'bad_password' | 'rate_limited';

export interface AuthenticatorOptions {
  readonly mode: AuthMode;
  readonly tokens: TokenAuthority;
  readonly store: ChatStore;
  readonly logger: Logger;
  readonly metrics: MetricsRegistry;
  readonly limiter?: LoginLimiter;
  /** Users whose access tokens carry the operator role (revision 1.3). */
  readonly operators?: readonly string[];
}

/** The role of the users named by the server's operator list (protocol defs.json `role`). */
const OPERATOR = 'operator';
/** In open mode, the warning repeats on every this-many-th request without a token. */
const OPEN_WARN_EVERY = 1000;
const OPEN_WARNING = 'auth open: anyone who can reach the broker can act as any user';
/** One message for an unknown user and a wrong password, so the reply does not say which names exist. */
const BAD_LOGIN = 'wrong user name or password';

/**
 * Decides who a request acts for (protocol README "Revisions", 1.1): the user of a verified access
 * token, never a body user that differs; checks passwords for logins with a per-user failure limit;
 * issues tokens. Every refusal is UNAUTHENTICATED (or FORBIDDEN) with data.reason, counted in
 * correio_auth_failures_total{reason}.
 */
export class Authenticator {
  readonly mode: AuthMode;
  readonly tokens: TokenAuthority;
  readonly #store: ChatStore;
  readonly #logger: Logger;
  readonly #limiter: LoginLimiter;
  readonly #operators: ReadonlySet<string>;
  readonly #failures;
  #unauthenticated = 0;

  constructor(options: AuthenticatorOptions) {
    this.mode = options.mode;
    this.tokens = options.tokens;
    this.#store = options.store;
    this.#logger = options.logger;
    this.#limiter = options.limiter ?? new LoginLimiter();
    this.#operators = new Set(options.operators ?? []);
    this.#failures = options.metrics.counter<'reason'>('auth_failures_total', {
      help: 'Requests refused UNAUTHENTICATED or FORBIDDEN, by reason (a token check, no token, a wrong password, the login limit, forbidden).',
      labelNames: ['reason'],
    });
    if (this.mode === 'open') this.#logger.warn({ auth: 'open' }, OPEN_WARNING);
  }

  /**
   * The user a request acts for. With a token: its verified user (a different `bodyUser` is
   * FORBIDDEN). Without one: UNAUTHENTICATED in password mode or when `tokenRequired`; the body
   * user in open mode (BAD_REQUEST when there is none).
   */
  async actingUser(auth: string | undefined, bodyUser: string | undefined, tokenRequired = false): Promise<string> {
    if (auth === undefined) {
      if (this.mode === 'password' || tokenRequired) throw this.#refuse('no_token', 'this request needs the access token of a logged-in user in the envelope auth (chat.login.request)');
      if (++this.#unauthenticated % OPEN_WARN_EVERY === 0) this.#logger.warn({ auth: 'open', requests: this.#unauthenticated }, OPEN_WARNING);
      if (bodyUser === undefined) throw new BadRequestError('the request names no user: send the envelope auth, or body.user to a server in open mode', { data: { reason: 'no_user' } });
      return bodyUser;
    }
    const claims = await this.verify(auth, 'access');
    if (bodyUser !== undefined && bodyUser !== claims.sub) {
      this.#failures.inc({ reason: 'forbidden' });
      throw new ForbiddenError(`the token is for ${claims.sub}; it cannot act as ${bodyUser}`, { data: { user: bodyUser, reason: 'other_user' } });
    }
    return claims.sub;
  }

  /** The verified claims of the envelope's access token, in either mode (chat.whoami): UNAUTHENTICATED without one. */
  async tokenClaims(auth: string | undefined): Promise<TokenClaims> {
    if (auth === undefined) throw this.#refuse('no_token', 'this request needs an access token in the envelope auth (chat.login.request)');
    return this.verify(auth, 'access');
  }

  /** Reads (users, channels, history) need a valid token in password mode; in open mode a token, when sent, must be valid. */
  async authorizeRead(auth: string | undefined): Promise<void> {
    if (auth !== undefined) await this.verify(auth, 'access');
    else if (this.mode === 'password') throw this.#refuse('no_token', 'this server serves members only: send the access token of a logged-in user in the envelope auth');
  }

  /**
   * A retry of a logout or password change already committed (same request id) is answered from
   * its operation although the operation revoked the token it carries: the token must still be
   * the same user's, correctly signed and unexpired. Undefined when `earlier` is not such a retry.
   */
  async retryOf(rid: string, auth: string | undefined, kind: 'logout' | 'password', earlier: Operation | undefined): Promise<Operation | undefined> {
    if (earlier?.kind !== kind || auth === undefined) return undefined;
    const verdict = await this.tokens.verify(auth, 'access');
    if (!verdict.ok || verdict.claims.sub !== earlier.data.user) throw new ConflictError(`request id ${rid} was already used for another request; send a new request with a new id`, { data: { rid } });
    return earlier;
  }

  /** Verifies a token for `use` and the user's account: current credential, no later logout. */
  async verify(token: string, use: 'access' | 'refresh'): Promise<TokenClaims> {
    const verdict = await this.tokens.verify(token, use);
    if (!verdict.ok) throw this.#refuse(verdict.reason, verdict.message);
    const { claims } = verdict;
    const account = this.#store.account(claims.sub);
    if (claims.cred === undefined) {
      if (this.mode !== 'open') throw this.#refuse('open_token', 'the token was issued by a server in open mode; log in with a password');
    } else if (account?.cred !== claims.cred) {
      throw this.#refuse('credential_changed', 'the token was issued under a password that is no longer current; log in again');
    }
    if (account !== undefined && claims.iat * 1000 < account.logout_at) throw this.#refuse('logged_out', 'the user logged out after this token was issued; log in again');
    return claims;
  }

  /**
   * Checks a login's password: required in password mode, checked when given in open mode. Returns
   * the credential to issue tokens under (undefined: an open-mode login without a password).
   */
  async checkLogin(user: string, password: string | undefined): Promise<string | undefined> {
    if (password === undefined) {
      if (this.mode === 'password') throw this.#refuse('bad_password', `${BAD_LOGIN} (this server needs a password)`);
      return undefined;
    }
    await this.checkPassword(user, password);
    return this.#store.account(user)!.cred;
  }

  /** Throws UNAUTHENTICATED unless `password` is the user's current one; limited per user. */
  async checkPassword(user: string, password: string): Promise<void> {
    const now = Date.now();
    const wait = this.#limiter.retryAfterMs(user, now);
    if (wait > 0) {
      this.#failures.inc({ reason: 'rate_limited' });
      throw new UnauthenticatedError(`too many failed logins for ${user}: try again in ${Math.ceil(wait / 1000)} s`, { retryable: true, data: { reason: 'rate_limited', retry_after_ms: wait } });
    }
    const hash = this.#store.account(user)?.hash;
    const ok = hash === undefined ? await verifyNothing(password) : await verifyPassword(password, hash);
    if (!ok) {
      this.#limiter.failed(user, now);
      throw this.#refuse('bad_password', BAD_LOGIN);
    }
    this.#limiter.succeeded(user);
  }

  /**
   * Tokens for `user` under `cred`, issued after the user's latest logout. They carry the operator
   * role when this server's operator list names the user and a password proved who it is (a
   * credential): an open-mode login without a password never makes an operator. `once` (a login's
   * operation id and wall time) makes them the same for a retry of that login.
   */
  issue(user: string, cred: string | undefined, once?: { readonly id: string; readonly at: number }): Promise<IssuedTokens> {
    return this.tokens.issue(user, {
      cred,
      notBeforeMs: this.#store.account(user)?.logout_at ?? 0,
      ...(once === undefined ? {} : { once }),
      roles: cred !== undefined && this.#operators.has(user) ? [OPERATOR] : [],
    });
  }

  #refuse(reason: AuthFailure, message: string): UnauthenticatedError {
    this.#failures.inc({ reason });
    return new UnauthenticatedError(message, { data: { reason } });
  }
}
