import type { Operation, PasswordHash } from '@correio/protocol';
import type { OrderKey } from './order.js';

/** The operation kinds that make up accounts (protocol revision 1.1). */
export const IDENTITY_KINDS: ReadonlySet<Operation['kind']> = new Set(['register', 'password', 'logout']);

/** A register or password operation as the identity index keeps it. */
export type IdentityEntry = { readonly kind: 'register'; readonly hash: PasswordHash } | { readonly kind: 'password'; readonly hash: PasswordHash; readonly under: string };

/** A user's account, derived from the identity operations held: the same on every replica holding the same operations. */
export interface AccountRecord {
  readonly user: string;
  /** The current credential, "<origin>:<seq>" of the register or password operation that set the password; absent when unregistered. */
  readonly cred?: string;
  readonly hash?: PasswordHash;
  /** Wall time of the winning register operation. */
  readonly registered_at?: number;
  /** Wall time of the latest logout (0: none): tokens issued before it no longer verify. */
  readonly logout_at: number;
}

/** "<origin>:<seq>", the form tokens carry in their cred claim. */
export function credentialOf(op: { readonly origin: string; readonly seq: number }): string {
  return `${op.origin}:${op.seq}`;
}

/**
 * Derives an account from its register and password operations, in order (hlc, origin, seq): the
 * earliest register owns the name and is the first credential; a password operation replaces the
 * credential when it was issued under the current one. One pass in order is enough, as a password
 * operation is always stamped after the credential it names (its origin held that one when it
 * stamped it, so its HLC is later); of two changes under one credential the earlier wins.
 */
export function accountOf(user: string, entries: ReadonlyArray<readonly [OrderKey, IdentityEntry]>, logoutAt: number): AccountRecord {
  let account: AccountRecord = { user, logout_at: logoutAt };
  for (const [order, entry] of entries) {
    const id = `${order[2]}:${order[3]}`;
    if (entry.kind === 'register' && account.cred === undefined) account = { ...account, cred: id, hash: entry.hash, registered_at: order[0] };
    else if (entry.kind === 'password' && account.cred !== undefined && entry.under === account.cred) account = { ...account, cred: id, hash: entry.hash };
  }
  return account;
}
