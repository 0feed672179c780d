/** ZMTP frame flags (RFC 37 §"Framing"). */
export const MORE = 0x01;
const LONG = 0x02;
export const COMMAND = 0x04;

/** One frame as it arrived: its flags (MORE, COMMAND) and body. */
export interface WireFrame {
  readonly flags: number;
  readonly body: Buffer;
}

const headerBytes = (size: number): number => (size <= 255 ? 2 : 9);

/** Writes a frame's header (flags and a 1- or 8-byte size) at `at`; returns where its body goes. */
function writeHeader(target: Buffer, at: number, size: number, flags: number): number {
  if (size <= 255) {
    target[at] = flags;
    target[at + 1] = size;
    return at + 2;
  }
  target[at] = flags | LONG;
  target.writeBigUInt64BE(BigInt(size), at + 1);
  return at + 9;
}

/** One frame on the wire. */
export function encodeFrame(body: Buffer, flags = 0): Buffer {
  return encodeFrames([body], flags);
}

/** The frames of one message on the wire, in one buffer, MORE set on all but the last. */
export function encodeMessage(frames: readonly Buffer[]): Buffer {
  return encodeFrames(frames, 0);
}

function encodeFrames(frames: readonly Buffer[], flags: number): Buffer {
  let size = 0;
  for (const frame of frames) size += headerBytes(frame.length) + frame.length;
  const wire = Buffer.allocUnsafe(size);
  let at = 0;
  frames.forEach((frame, i) => {
    at = writeHeader(wire, at, frame.length, flags | (i < frames.length - 1 ? MORE : 0));
    at += frame.copy(wire, at);
  });
  return wire;
}

/**
 * Splits a byte stream into frames. A frame whose header announces more than `maxFrameBytes` is
 * refused at the header, before any of its body is kept, so a peer can make it hold at most one
 * frame of that size (and whatever one read brings).
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number;
  #buffered: Buffer = Buffer.alloc(0);

  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Adds bytes; calls `onFrame` for each complete frame. Returns false (and stops) at an oversized frame. */
  push(chunk: Buffer, onFrame: (frame: WireFrame) => boolean | void): boolean {
    let data = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    for (;;) {
      if (data.length < 2) break;
      const flags = data[0]!;
      const long = (flags & LONG) !== 0;
      const headerBytes = long ? 9 : 2;
      if (data.length < headerBytes) break;
      // A long size's high 32 bits set means more than 4 GiB: over any limit.
      const size = long ? (data.readUInt32BE(1) > 0 ? Infinity : data.readUInt32BE(5)) : data[1]!;
      if (size > this.#maxFrameBytes) return false;
      const end = headerBytes + size;
      if (data.length < end) break;
      const body = data.subarray(headerBytes, end);
      data = data.subarray(end);
      if (onFrame({ flags: flags & (MORE | COMMAND), body }) === false) {
        this.#buffered = Buffer.alloc(0);
        return true;
      }
    }
    // Keep a copy of the tail only, so the chunk it came in can be freed.
    this.#buffered = data.length === 0 ? Buffer.alloc(0) : Buffer.from(data);
    return true;
  }
}
