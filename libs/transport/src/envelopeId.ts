import { decode } from '@correio/codec';

/** The id an error reply carries when no usable request id can be read (protocol/FRAMES.md §1.4). */
export const UNREADABLE_ID = '0';

/** Request ids as ENCODING.md §3 allows them. */
const ID_PATTERN = /^[0-9A-Za-z_-]{1,64}$/;

/**
 * The `id` of a message that is not a valid envelope, when its bytes decode far enough to yield
 * one (MessagePack holding a map with a well-formed `id`); otherwise UNREADABLE_ID. For matching
 * a bad message to its request, never for trusting anything else in it.
 */
export function readableId(bytes: Uint8Array | undefined): string {
  if (bytes === undefined) return UNREADABLE_ID;
  try {
    const value = decode(bytes) as { id?: unknown } | null;
    if (typeof value === 'object' && value !== null && typeof value.id === 'string' && ID_PATTERN.test(value.id)) return value.id;
  } catch {
    // not even MessagePack: nothing to read
  }
  return UNREADABLE_ID;
}
