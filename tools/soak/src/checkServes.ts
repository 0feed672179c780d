import type { ChatHistoryReply, RefServersReply } from '@correio/protocol';
import { waitFor } from '@correio/testing';
import { generateCurveKeyPair, RequestClient, Subscriber, type Publication } from '@correio/transport';
import { RETRY, signIn } from './account.js';
import type { SoakTopology } from './topology.js';

/** What an honest client saw: every long-running program served it. */
export interface ServiceCheck {
  readonly channel: string;
  /** Publications sent until one came back through the proxy. */
  readonly published: number;
  /** How long the whole check took. */
  readonly ms: number;
}

/**
 * An honest CURVE client and subscriber use the system as a user would: register (once) and log in
 * with a password, send the access token with every request acting as the user, create a channel
 * `check-<label>`, publish until a publication is heard through the proxy, read every publication
 * back from every server's history (replicated), and find every server alive in the reference
 * server's list. Throws, naming the step, when a program does not serve within `timeoutMs`.
 */
export async function checkServes(topology: SoakTopology, label: string, timeoutMs = 60_000): Promise<ServiceCheck> {
  const started = Date.now();
  const curve = { serverKey: topology.keys.publicKey, ...generateCurveKeyPair() };
  const user = 'honest';
  const channel = `check-${label}`;
  const client = new RequestClient({ endpoint: topology.broker[0], from: `soak-honest-${label}`, timeout: 5_000, curve });
  const subscriber = new Subscriber({ topics: [`chan/${channel}/`], curve });
  const heard: Publication[] = [];
  const receiving = (async () => {
    for await (const publication of subscriber) heard.push(publication);
  })();
  try {
    subscriber.connect(topology.proxy.subscribers);
    const { token } = await signIn(client, topology, user, timeoutMs);
    const asUser = { ...RETRY, auth: token };
    await client.request('chat', 'chat.channel.create.request', { user, channel }, asUser);
    const texts: string[] = [];
    // The subscription reaches the servers' publishers asynchronously: publish until one is heard.
    await waitFor(
      async () => {
        const text = `honest ${label} ${texts.length + 1}`;
        await client.request('chat', 'chat.publish.request', { user, channel, text }, asUser);
        texts.push(text);
        return heard.some((publication) => publication.envelope.type === 'chat.publication');
      },
      `a publication on chan/${channel}/ heard through the proxy`,
      timeoutMs,
      200,
    );
    for (const server of topology.servers) {
      await waitFor(
        async () => {
          const reply = await client.request(`srv.${server}`, 'chat.history.request', { channel, limit: 500 }, asUser);
          const stored = new Set((reply.body as ChatHistoryReply).messages.map((message) => message.text));
          return texts.every((text) => stored.has(text));
        },
        `every publication of ${channel} in the history of ${server}`,
        timeoutMs,
        200,
      );
    }
    await waitFor(
      async () => {
        const reply = (await client.request('ref', 'ref.servers.request', {}, RETRY)).body as RefServersReply;
        return topology.servers.every((server) => reply.servers.some((listed) => listed.server === server && listed.alive));
      },
      `every server listed alive by the reference server`,
      timeoutMs,
      200,
    );
    return { channel, published: texts.length, ms: Date.now() - started };
  } finally {
    await Promise.all([client.close(), subscriber.close()]);
    await receiving;
  }
}
