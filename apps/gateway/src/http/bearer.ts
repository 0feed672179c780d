/**
 * The bearer token of an `Authorization` header; undefined without one, null when the header is not
 * `Bearer <compact JWS>` (answered 401 here: a token of the wrong shape would otherwise reach the
 * cluster as an envelope that fails validation, a 400).
 */
export function bearerToken(header: string | undefined): string | undefined | null {
  if (header === undefined) return undefined;
  const match = /^Bearer ([A-Za-z0-9_-]{1,2048}\.[A-Za-z0-9_-]{1,2048}\.[A-Za-z0-9_-]{0,1024})$/i.exec(header.trim());
  return match ? match[1]! : null;
}

/** The claims the gateway reads from a token, unverified: the servers verify every token they are sent. */
export interface TokenClaims {
  readonly sub?: string;
  readonly exp?: number;
}

/**
 * Reads a compact JWS's payload without verifying it, to name the user of a stream and to close the
 * stream when the token expires. Never a reason to trust anything: access is decided by the servers.
 */
export function tokenClaims(token: string): TokenClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1]!.length > 4096) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    if (claims === null || typeof claims !== 'object') return undefined;
    const { sub, exp } = claims as Record<string, unknown>;
    return { ...(typeof sub === 'string' ? { sub } : {}), ...(typeof exp === 'number' && Number.isFinite(exp) ? { exp } : {}) };
  } catch {
    return undefined;
  }
}
