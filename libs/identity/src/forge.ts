// For tests of verifiers (servers, gateways): hostile variants of the cluster's tokens, each with
// the failure a correct verifier reports. Not used to serve anything.
import { createHmac, randomBytes } from 'node:crypto';
import { importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import { newKeyRecord, readKeySet, signingKeyRecord } from './keySet.js';
import type { TokenFailure } from './tokens.js';

export interface TokenAttack {
  readonly name: string;
  readonly token: string;
  /** What a verifier must answer: the failure reason. */
  readonly reason: TokenFailure;
}

export interface ForgeOptions {
  readonly user: string;
  readonly cred?: string;
  readonly issuer?: string;
  readonly audience?: string;
}

/** Signs `claims` with an Ed25519 private JWK under `kid`, as a server would. */
export async function signWith(jwk: JWK, kid: string, claims: JWTPayload): Promise<string> {
  const key = await importJWK({ ...jwk, alg: 'EdDSA' }, 'EdDSA');
  return new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT' }).sign(key);
}

/**
 * Every token attack against the key set at `keySetPath`: a foreign key under a known kid, an unknown
 * kid, expired, tampered payload, tampered signature, alg none, HS256 signed with the public key
 * bytes, wrong audience, wrong issuer, a refresh token used as an access token, and (when the set
 * holds a retired key) a token signed by a retired key.
 */
export async function tokenAttacks(keySetPath: string, options: ForgeOptions): Promise<TokenAttack[]> {
  const now = Math.floor(Date.now() / 1000);
  const set = readKeySet(keySetPath);
  const active = signingKeyRecord(set)!;
  const retired = set.keys.find((key) => key.retire_at !== undefined && key.retire_at <= Date.now());
  const claims = (extra: JWTPayload = {}): JWTPayload => ({
    iss: options.issuer ?? 'correio',
    aud: options.audience ?? 'correio',
    sub: options.user,
    iat: now,
    exp: now + 600,
    jti: randomBytes(9).toString('base64url'),
    use: 'access',
    ...(options.cred === undefined ? {} : { cred: options.cred }),
    ...extra,
  });
  const valid = await signWith(active.jwk, active.kid, claims());
  const [header, payload, signature] = valid.split('.') as [string, string, string];
  const foreign = await newKeyRecord();
  const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const hmacHeader = encode({ alg: 'HS256', kid: active.kid, typ: 'JWT' });
  const hmacBody = encode(claims());
  // Key confusion: HMAC keyed with the public key's bytes, which a verifier taking any alg might use.
  const hmac = createHmac('sha256', Buffer.from(active.jwk.x!, 'base64url')).update(`${hmacHeader}.${hmacBody}`).digest('base64url');
  const attacks: TokenAttack[] = [
    { name: 'signed by a foreign key under a known kid', token: await signWith(foreign.jwk, active.kid, claims()), reason: 'bad_signature' },
    { name: 'signed by a foreign key under an unknown kid', token: await signWith(foreign.jwk, foreign.kid, claims()), reason: 'unknown_key' },
    { name: 'expired', token: await signWith(active.jwk, active.kid, claims({ iat: now - 7200, exp: now - 3600 })), reason: 'expired' },
    { name: 'tampered payload (another user)', token: `${header}.${encode({ ...claims(), sub: `${options.user}x` })}.${signature}`, reason: 'bad_signature' },
    { name: 'tampered signature', token: `${header}.${payload}.${flip(signature)}`, reason: 'bad_signature' },
    { name: 'alg none', token: `${encode({ alg: 'none', kid: active.kid, typ: 'JWT' })}.${encode(claims())}.`, reason: 'algorithm' },
    { name: 'HS256 signed with the public key bytes', token: `${hmacHeader}.${hmacBody}.${hmac}`, reason: 'algorithm' },
    { name: 'wrong audience', token: await signWith(active.jwk, active.kid, claims({ aud: 'someone-else' })), reason: 'wrong_audience' },
    { name: 'wrong issuer', token: await signWith(active.jwk, active.kid, claims({ iss: 'evil' })), reason: 'wrong_issuer' },
    { name: 'a refresh token used as an access token', token: await signWith(active.jwk, active.kid, claims({ use: 'refresh' })), reason: 'wrong_use' },
  ];
  if (retired) attacks.push({ name: 'signed by a retired key', token: await signWith(retired.jwk, retired.kid, claims()), reason: 'retired_key' });
  return attacks;
}

/** The same signature with its first character changed. */
function flip(signature: string): string {
  return `${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
}
