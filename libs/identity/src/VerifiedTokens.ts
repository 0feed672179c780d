import type { CryptoKey } from 'jose';
import type { TokenClaims } from './tokens.js';

/** What a signature check established about one exact token string. */
interface Verified {
  readonly claims: TokenClaims;
  /** The key that verified it: a hit counts only while the key ring still gives this key for the kid. */
  readonly key: CryptoKey;
}

/**
 * Tokens whose signature already verified, by their exact text: a client sends the same access
 * token with every request for up to its lifetime, and an Ed25519 check costs far more than the
 * request it guards. Only the signature work is saved; expiry, key retirement and use are checked
 * again on every hit, and the account checks (credential, logout) are the caller's, every time.
 * Bounded: past `capacity` the oldest entry goes.
 */
export class VerifiedTokens {
  readonly #entries = new Map<string, Verified>();
  readonly #capacity: number;

  constructor(capacity = 4096) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(token: string): Verified | undefined {
    return this.#entries.get(token);
  }

  remember(token: string, claims: TokenClaims, key: CryptoKey): void {
    if (this.#capacity <= 0) return;
    if (this.#entries.size >= this.#capacity && !this.#entries.has(token)) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(token, { claims, key });
  }

  forget(token: string): void {
    this.#entries.delete(token);
  }
}
