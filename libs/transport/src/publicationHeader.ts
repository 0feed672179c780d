import { Decoder, encode } from '@correio/codec';

/** Most bodies one pub/sub message may carry (protocol/FRAMES.md §3.2). */
export const MAX_BATCH = 1000;
/** Largest bodies frame a publisher builds from several publications (FRAMES.md §3.5). */
export const MAX_BATCH_BYTES = 1024 * 1024;

/**
 * Frame 1 of every pub/sub message (protocol/FRAMES.md §3.2): who published it and the sequence
 * numbers it carries. Frame 2 holds `n` bodies numbered s, s+1, ..., s+n-1, counted per
 * publisher per topic from 1, so a subscriber can tell a gap from a restart.
 */
export interface PublicationHeader {
  /** Publisher id: 1–128 printable ASCII, unique per publisher process run. */
  readonly p: string;
  /** Sequence number of the first body. */
  readonly s: number;
  /** Number of bodies, 1–1000. */
  readonly n: number;
}

const PUBLISHER_ID = /^[\x21-\x7e]{1,128}$/;

/** The canonical MessagePack bytes of a header. */
export function encodePublicationHeader(header: PublicationHeader): Uint8Array {
  return encode({ n: header.n, p: header.p, s: header.s });
}

/** Decodes and checks a header; throws DecodeError or an Error naming the bad field. */
export function decodePublicationHeader(bytes: Uint8Array, decoder: Decoder = new Decoder()): PublicationHeader {
  const value = decoder.decode(bytes) as Record<string, unknown> | null;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('header is not a map');
  const extra = Object.keys(value).filter((key) => key !== 'n' && key !== 'p' && key !== 's');
  if (extra.length > 0) throw new Error(`header has unknown keys ${extra.join(', ')}`);
  const { p, s, n } = value;
  if (typeof p !== 'string' || !PUBLISHER_ID.test(p)) throw new Error('header p must be a publisher id of 1–128 printable ASCII characters');
  if (!Number.isSafeInteger(s) || (s as number) < 1) throw new Error('header s must be a positive integer');
  if (!Number.isSafeInteger(n) || (n as number) < 1 || (n as number) > MAX_BATCH) throw new Error(`header n must be an integer from 1 to ${MAX_BATCH}`);
  if ((s as number) > Number.MAX_SAFE_INTEGER - ((n as number) - 1)) throw new Error('header s + n − 1 must not exceed 2^53 − 1');
  return { p, s: s as number, n: n as number };
}
