export { hashPassword, verifyPassword, verifyNothing, DEFAULT_SCRYPT, type ScryptParams } from './password.js';
export { createKeySetIfMissing, liveKeys, signingKeyRecord, newKeyRecord, parseKeySet, readKeySet, rotateKeySet, writeKeySet, KeySetError, type KeyRecord, type KeySetFile } from './keySet.js';
export { KeyRing, type KeyRingOptions, type KeyLookupFailure } from './KeyRing.js';
export {
  TokenAuthority,
  DEFAULT_ACCESS_TTL_MS,
  DEFAULT_REFRESH_TTL_MS,
  type TokenAuthorityOptions,
  type TokenClaims,
  type IssueOptions,
  type TokenFailure,
  type TokenUse,
  type TokenVerdict,
  type IssuedTokens,
} from './tokens.js';
export { LoginLimiter, type LoginLimiterOptions } from './LoginLimiter.js';
export { tokenAttacks, signWith, type TokenAttack, type ForgeOptions } from './forge.js';
