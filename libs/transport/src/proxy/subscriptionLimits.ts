import { MAX_TOPIC_BYTES } from '../topic.js';

/**
 * The largest message a subscriber-facing socket (the proxy's XPUB, every PUB) accepts. A
 * subscription is one byte (1 subscribe, 0 unsubscribe) and a topic prefix of at most 255 bytes;
 * the rest is room for ZMTP 3.1's SUBSCRIBE command name, CURVE's box around each message and its
 * INITIATE handshake command (about 270 bytes), which libzmq checks against the same limit.
 * libzmq disconnects a peer whose message is larger before it stores any of it.
 */
export const MAX_SUBSCRIPTION_MESSAGE_BYTES = 512;

/** Distinct topics a metered proxy passes on to its publishers, by default. */
export const DEFAULT_MAX_SUBSCRIPTIONS = 10_000;

/**
 * A subscription prefix the proxy passes on: a prefix of a topic (FRAMES.md §3.3), so printable
 * ASCII and at most 255 bytes; the empty prefix subscribes to everything.
 */
export function isSubscriptionPrefix(prefix: Buffer): boolean {
  if (prefix.length > MAX_TOPIC_BYTES) return false;
  for (const byte of prefix) if (byte < 0x21 || byte > 0x7e) return false;
  return true;
}

/** Subscriptions one connection may hold in guarded mode, by default. */
export const DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION = 1_000;
