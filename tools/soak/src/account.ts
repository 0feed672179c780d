import { CorreioError } from '@correio/codec';
import type { ChatLoginReply } from '@correio/protocol';
import { waitFor } from '@correio/testing';
import type { RequestClient } from '@correio/transport';
import type { SoakTopology } from './topology.js';

/** A user of the soak's password-mode cluster, logged in. */
export interface SoakAccount {
  readonly user: string;
  readonly password: string;
  /** The access token, for the envelope auth of every request acting as the user. */
  readonly token: string;
  /** The refresh token, for chat.refresh.request. */
  readonly refreshToken: string;
}

/** Patient enough for a server that a loaded machine starves for a few seconds (the broker then answers UNAVAILABLE). */
export const RETRY = { retries: 8, backoff: { initialMs: 200, maxMs: 2_000 } };

/**
 * Registers `user` (a CONFLICT means an earlier call did) and logs in, both on the first server,
 * then waits until every server accepts the token: the registration reaches them by replication.
 */
export async function signIn(client: RequestClient, topology: SoakTopology, user: string, timeoutMs: number): Promise<SoakAccount> {
  const password = `${user} soak password`;
  const first = `srv.${topology.servers[0]!}`;
  try {
    await client.request(first, 'chat.register.request', { user, password }, RETRY);
  } catch (error) {
    if (CorreioError.from(error).code !== 'CONFLICT') throw error;
  }
  const login = (await client.request(first, 'chat.login.request', { user, password }, RETRY)).body as ChatLoginReply;
  const token = login.token!;
  const refreshToken = login.refresh_token!;
  for (const server of topology.servers) {
    await waitFor(() => accepts(client, `srv.${server}`, token), `${server} to accept ${user}'s token (the registration replicated)`, timeoutMs, 200);
  }
  return { user, password, token, refreshToken };
}

async function accepts(client: RequestClient, service: string, token: string): Promise<boolean> {
  try {
    await client.request(service, 'chat.users.request', { limit: 1 }, { ...RETRY, auth: token });
    return true;
  } catch (error) {
    if (CorreioError.from(error).code === 'UNAUTHENTICATED') return false;
    throw error;
  }
}
