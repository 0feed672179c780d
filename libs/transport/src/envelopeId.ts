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
  return readableHead(bytes).id;
}

/** The `id` (as readableId) and the `type` (a string, or '' when there is none) of a message, for logging only. */
export function readableHead(bytes: Uint8Array | undefined): { id: string; type: string } {
  if (bytes === undefined) return { id: UNREADABLE_ID, type: '' };
  try {
    const value = decode(bytes) as { id?: unknown; type?: unknown } | null;
    if (typeof value === 'object' && value !== null) {
      return { id: typeof value.id === 'string' && ID_PATTERN.test(value.id) ? value.id : UNREADABLE_ID, type: typeof value.type === 'string' ? value.type.slice(0, 64) : '' };
    }
  } catch {
    // not even MessagePack: nothing to read
  }
  return { id: UNREADABLE_ID, type: '' };
}
