// The chat flows the deploy test runs: through the gateway's HTTP API (what a web or mobile client
// does), and through the broker to one server by its own service name (srv.<id>), which the
// gateway cannot do.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ChatClient } from '@correio/client';

/** Attempts of one request that fails with a retryable error (the protocol's `retryable: true`). */
const MAX_ATTEMPTS = 5;

/**
 * A user of the gateway's JSON API at baseUrl. Behaves as the protocol asks of a client: every
 * request carries an Idempotency-Key (the request id), and one answered with a retryable error (a
 * request in flight on a server that died: 503 UNAVAILABLE, `retry with the same id`) is sent again
 * with the same key after its Retry-After, a bounded number of times; `retried` counts them.
 */
export class GatewayUser {
  retried = 0;

  constructor(baseUrl, user, password) {
    this.baseUrl = baseUrl;
    this.user = user;
    this.password = password;
  }

  async request(method, path, body) {
    const headers = { 'content-type': 'application/json', 'idempotency-key': randomUUID(), ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) };
    for (let attempt = 1; ; attempt++) {
      const response = await fetch(`${this.baseUrl}${path}`, { method, headers, ...(body ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(30_000) });
      const reply = await response.json();
      if (response.ok) return reply;
      if (reply.retryable !== true || attempt === MAX_ATTEMPTS) throw new Error(`${method} ${path}: ${response.status} ${reply.code ?? ''} ${reply.message ?? JSON.stringify(reply)} (attempt ${attempt})`);
      this.retried += 1;
      await sleep(Math.min(Number(response.headers.get('retry-after') ?? 1), 5) * 1000);
    }
  }

  register() {
    return this.request('POST', '/v1/register', { user: this.user, password: this.password });
  }

  async login() {
    this.token = (await this.request('POST', '/v1/login', { user: this.user, password: this.password })).token;
  }

  createChannel(channel) {
    return this.request('POST', '/v1/channels', { channel });
  }

  publish(channel, text) {
    return this.request('POST', `/v1/channels/${encodeURIComponent(channel)}/messages`, { text });
  }

  /** The texts of a channel's latest publications, oldest first. */
  async history(channel) {
    const reply = await this.request('GET', `/v1/channels/${encodeURIComponent(channel)}/messages?limit=500`);
    return reply.messages.map((message) => message.text);
  }
}

/** The texts of a channel's latest publications as one server has them (service srv.<id>). */
export async function historyOnServer({ broker, server, user, password, channel }) {
  const client = new ChatClient({ broker, service: `srv.${server}`, timeout: 5_000, retries: 2 });
  try {
    await client.login(user, { password });
    const reply = await client.history(channel, { limit: 500 });
    return reply.messages.map((message) => message.text);
  } finally {
    await client.close();
  }
}
