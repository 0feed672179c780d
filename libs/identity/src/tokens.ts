import { createHash, randomBytes } from 'node:crypto';
import { errors, jwtVerify, SignJWT, type CryptoKey, type JWTHeaderParameters, type JWTPayload } from 'jose';
import type { KeyRing } from './KeyRing.js';
import { VerifiedTokens } from './VerifiedTokens.js';

export type TokenUse = 'access' | 'refresh';

/** Why a token did not verify; the label of correio_auth_failures_total{reason}. */
export type TokenFailure =
  | 'malformed'
  | 'algorithm'
  | 'unknown_key'
  | 'retired_key'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'wrong_use'
  | 'bad_claims';

/** The claims of a verified token that the server acts on. */
export interface TokenClaims {
  /** The user. */
  readonly sub: string;
  readonly use: TokenUse;
  /** The credential ("<origin>:<seq>") it was issued under; absent on open-mode tokens. */
  readonly cred?: string;
  /** Issued at, seconds since the epoch. */
  readonly iat: number;
  /** Expires at, seconds since the epoch. */
  readonly exp: number;
  readonly jti: string;
  readonly kid: string;
  /** The roles the token grants (its `roles` claim); empty when it has none. */
  readonly roles: readonly string[];
}

export type TokenVerdict = { readonly ok: true; readonly claims: TokenClaims } | { readonly ok: false; readonly reason: TokenFailure; readonly message: string };

/** What a pair of tokens is issued under, besides the user. */
export interface IssueOptions {
  /** The credential ("<origin>:<seq>") the tokens are issued under; absent in open mode. */
  readonly cred?: string | undefined;
  /** The user's latest logout (ms): iat is kept at or after it, so the new tokens are not revoked by it. */
  readonly notBeforeMs?: number;
  /**
   * Makes the tokens a function of it (issued at `once.at`, jti from `once.id`; Ed25519 signatures
   * are deterministic): the reply to a retried login is the same as the first one.
   */
  readonly once?: { readonly id: string; readonly at: number };
  /** Roles the access token grants (its `roles` claim, left out when empty); the refresh token carries none. */
  readonly roles?: readonly string[];
}

export interface IssuedTokens {
  readonly token: string;
  readonly refresh_token: string;
  /** Access-token expiry, ms since the epoch. */
  readonly expires_at: number;
  readonly refresh_expires_at: number;
}

export interface TokenAuthorityOptions {
  readonly keys: KeyRing;
  /** iss of issued tokens, and the only one accepted (default correio). */
  readonly issuer?: string;
  /** aud of issued tokens, and the only one accepted (default correio). */
  readonly audience?: string;
  /** Access-token lifetime (default 15 min). */
  readonly accessTtlMs?: number;
  /** Refresh-token lifetime (default 7 days). */
  readonly refreshTtlMs?: number;
  /** Clock tolerance for exp and nbf (default 30 s). */
  readonly clockToleranceMs?: number;
  /** The clock (ms); tests move it. */
  readonly now?: () => number;
  /** Verified tokens remembered so a repeated token skips the signature check (default 4096; 0 turns it off). */
  readonly verifiedCacheSize?: number;
}

export const DEFAULT_ACCESS_TTL_MS = 15 * 60_000;
export const DEFAULT_REFRESH_TTL_MS = 7 * 86_400_000;
/** The longest token accepted (the protocol's defs.json token maxLength). */
const MAX_TOKEN_LENGTH = 4096;
/** The most roles a token may carry (the protocol's chat.whoami.reply roles maxItems). */
const MAX_ROLES = 16;
const USES: ReadonlySet<unknown> = new Set(['access', 'refresh']);

/** Issues and verifies the cluster's tokens: compact JWS, EdDSA (Ed25519) only, with kid, iss, aud, exp, use and cred. */
export class TokenAuthority {
  readonly issuer: string;
  readonly audience: string;
  readonly accessTtlMs: number;
  readonly refreshTtlMs: number;
  readonly #keys: KeyRing;
  readonly #toleranceS: number;
  readonly #now: () => number;
  readonly #verified: VerifiedTokens;

  constructor(options: TokenAuthorityOptions) {
    this.#keys = options.keys;
    this.issuer = options.issuer ?? 'correio';
    this.audience = options.audience ?? 'correio';
    this.accessTtlMs = options.accessTtlMs ?? DEFAULT_ACCESS_TTL_MS;
    this.refreshTtlMs = options.refreshTtlMs ?? DEFAULT_REFRESH_TTL_MS;
    this.#toleranceS = Math.ceil((options.clockToleranceMs ?? 30_000) / 1000);
    this.#now = options.now ?? Date.now;
    this.#verified = new VerifiedTokens(options.verifiedCacheSize);
  }

  /** An access token and a refresh token for `user` (see IssueOptions). */
  async issue(user: string, options: IssueOptions = {}): Promise<IssuedTokens> {
    const { cred, notBeforeMs = 0, once, roles = [] } = options;
    const now = once?.at ?? this.#now();
    const iat = Math.max(Math.floor(now / 1000), Math.ceil(notBeforeMs / 1000));
    const accessExp = Math.floor((now + this.accessTtlMs) / 1000);
    const refreshExp = Math.floor((now + this.refreshTtlMs) / 1000);
    const jti = (use: TokenUse) => (once === undefined ? randomBytes(12).toString('base64url') : createHash('sha256').update(`${once.id}\n${use}`).digest('base64url').slice(0, 16));
    const [token, refresh_token] = await Promise.all([
      this.#sign(user, 'access', { ...(cred === undefined ? {} : { cred }), ...(roles.length === 0 ? {} : { roles: [...roles] }) }, iat, accessExp, jti('access')),
      this.#sign(user, 'refresh', cred === undefined ? {} : { cred }, iat, refreshExp, jti('refresh')),
    ]);
    return { token, refresh_token, expires_at: accessExp * 1000, refresh_expires_at: refreshExp * 1000 };
  }

  /**
   * Verifies signature, key, algorithm, iss, aud, exp/nbf and use. Never throws. A token verified
   * before skips the signature check while its key is still the ring's for its kid; expiry, key
   * retirement and use are checked every time.
   */
  async verify(token: unknown, use: TokenUse): Promise<TokenVerdict> {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return fail('malformed', `a token is a string of at most ${MAX_TOKEN_LENGTH} characters`);
    const now = this.#now();
    const known = this.#verified.get(token);
    if (known !== undefined) {
      const key = this.#keys.verificationKey(known.claims.kid, now);
      if (key === known.key && now < (known.claims.exp + this.#toleranceS) * 1000) return known.claims.use === use ? { ok: true, claims: known.claims } : wrongUse(known.claims.use, use);
      // Expired, retired or re-keyed: the full check below says which, with its own message.
      this.#verified.forget(token);
    }
    let lookup: 'unknown_key' | 'retired_key' | undefined;
    let verifiedWith: CryptoKey | undefined;
    try {
      const { payload, protectedHeader } = await jwtVerify(
        token,
        (header: JWTHeaderParameters) => {
          const key = this.#keys.verificationKey(header.kid, now);
          if (typeof key === 'string') {
            lookup = key;
            throw new Error(key);
          }
          verifiedWith = key;
          return key;
        },
        {
          algorithms: ['EdDSA'],
          issuer: this.issuer,
          audience: this.audience,
          clockTolerance: this.#toleranceS,
          currentDate: new Date(now),
          requiredClaims: ['sub', 'iat', 'exp', 'jti'],
        },
      );
      const verdict = checkClaims(payload, String(protectedHeader.kid));
      if (!verdict.ok) return verdict;
      if (verifiedWith !== undefined) this.#verified.remember(token, verdict.claims, verifiedWith);
      return verdict.claims.use === use ? verdict : wrongUse(verdict.claims.use, use);
    } catch (error) {
      if (lookup !== undefined) return fail(lookup, lookup === 'unknown_key' ? 'the token is signed with a key this cluster does not know' : 'the token is signed with a retired key');
      return fail(...classify(error));
    }
  }

  async #sign(user: string, use: TokenUse, extra: JWTPayload, iat: number, exp: number, jti: string): Promise<string> {
    const { kid, key } = this.#keys.signingKey(this.#now());
    return new SignJWT({ use, ...extra })
      .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setSubject(user)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(jti)
      .sign(key);
  }
}

/** The claims of a payload whose signature verified, with the use it was issued for. */
function checkClaims(payload: JWTPayload, kid: string): TokenVerdict {
  if (typeof payload.sub !== 'string' || typeof payload.jti !== 'string' || !USES.has(payload['use'])) return fail('bad_claims', 'the token lacks sub, jti or use');
  if (payload['cred'] !== undefined && typeof payload['cred'] !== 'string') return fail('bad_claims', 'the token cred is not a string');
  const roles = payload['roles'] ?? [];
  if (!Array.isArray(roles) || roles.length > MAX_ROLES || !roles.every((role) => typeof role === 'string')) return fail('bad_claims', `the token roles are not a list of at most ${MAX_ROLES} strings`);
  const claims: TokenClaims = {
    sub: payload.sub,
    use: payload['use'] as TokenUse,
    iat: payload.iat!,
    exp: payload.exp!,
    jti: payload.jti,
    kid,
    roles: roles as string[],
    ...(typeof payload['cred'] === 'string' ? { cred: payload['cred'] } : {}),
  };
  return { ok: true, claims };
}

function wrongUse(actual: TokenUse, wanted: TokenUse): TokenVerdict {
  return fail('wrong_use', `a ${actual} token cannot be used as an ${wanted} token`);
}

function classify(error: unknown): [TokenFailure, string] {
  if (error instanceof errors.JOSEAlgNotAllowed) return ['algorithm', 'the token is not signed with EdDSA, the only algorithm accepted'];
  if (error instanceof errors.JWSSignatureVerificationFailed) return ['bad_signature', 'the token signature does not verify'];
  if (error instanceof errors.JWTExpired) return ['expired', 'the token has expired: log in again or refresh it'];
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return ['wrong_issuer', 'the token was issued by another issuer'];
    if (error.claim === 'aud') return ['wrong_audience', 'the token is for another audience'];
    if (error.claim === 'nbf' || error.claim === 'iat') return ['not_yet_valid', 'the token is not valid yet'];
    return ['bad_claims', `the token claim ${error.claim} is invalid`];
  }
  return ['malformed', 'the token is not a well-formed signed JWT'];
}

function fail(reason: TokenFailure, message: string): TokenVerdict {
  return { ok: false, reason, message };
}
