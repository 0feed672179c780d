import { CorreioError } from '@correio/codec';
import { tokenAttacks, type TokenAttack } from '@correio/identity';
import type { AnyEnvelope, ChatLoginReply } from '@correio/protocol';
import { waitFor } from '@correio/testing';
import type { RequestClient } from '@correio/transport';
import type { Topology } from '../Topology.js';

/** The password every user of the hostile runs registers with. */
const PASSWORD = 'hostile corpus password';

/**
 * Logs `user` in as an honest client would, in the topology's auth mode, and resolves with its
 * access token. Password mode: registers it (a CONFLICT means an earlier run did) and logs in on
 * the first server, then waits until every server accepts the token (the registration travels by
 * replication). Open mode: a login without a password, whose token the servers accept as well.
 */
export async function signIn(client: RequestClient, topology: Topology, user: string, timeoutMs = 60_000): Promise<string> {
  if (topology.auth.mode === 'open') return ((await client.request('chat', 'chat.login.request', { user })).body as ChatLoginReply).token!;
  const first = `srv.${topology.servers[0]!}`;
  try {
    await client.request(first, 'chat.register.request', { user, password: PASSWORD }, { timeout: 15_000 });
  } catch (error) {
    if (CorreioError.from(error).code !== 'CONFLICT') throw error;
  }
  const token = ((await client.request(first, 'chat.login.request', { user, password: PASSWORD }, { timeout: 15_000 })).body as ChatLoginReply).token!;
  for (const id of topology.servers) await waitFor(() => accepts(client, `srv.${id}`, token), `${id} to accept ${user}'s token`, timeoutMs, 200);
  return token;
}

async function accepts(client: RequestClient, service: string, token: string): Promise<boolean> {
  try {
    await client.request(service, 'chat.users.request', { limit: 1 }, { auth: token });
    return true;
  } catch (error) {
    if (CorreioError.from(error).code === 'UNAUTHENTICATED') return false;
    throw error;
  }
}

/**
 * What a hostile request carries as its envelope `auth`: a valid token of one of the hostile
 * users (so it reaches the handlers and acts as that user), a forged one (every token attack of
 * @correio/identity against the cluster's key set: foreign key, unknown kid, expired, tampered,
 * alg none, HS256 with the public key, wrong audience and issuer, a refresh token), or none.
 */
export class HostileAuth {
  readonly attacks: readonly TokenAttack[];
  readonly #valid: readonly string[];

  private constructor(valid: readonly string[], attacks: readonly TokenAttack[]) {
    this.#valid = valid;
    this.attacks = attacks;
  }

  static async forge(topology: Topology, valid: readonly string[], user: string): Promise<HostileAuth> {
    return new HostileAuth(valid, await tokenAttacks(topology.auth.keys, { user }));
  }

  /** `envelope` with an auth chosen by its id (the same shot gets the same one): half valid, a quarter forged, a quarter none. */
  stamp(envelope: AnyEnvelope): AnyEnvelope {
    let hash = 0;
    for (const char of envelope.id) hash = (Math.imul(hash, 31) + char.charCodeAt(0)) | 0;
    const pick = Math.abs(hash) % 4;
    if (pick === 3) return envelope;
    const auth = pick === 2 ? this.attacks[Math.abs(hash >> 2) % this.attacks.length]!.token : this.#valid[Math.abs(hash >> 2) % this.#valid.length]!;
    return { ...envelope, auth };
  }
}
