/** One frame of a multipart ZeroMQ message, as the transport accepts it for sending. */
export type Frame = Buffer | Uint8Array | string;

/** A received multipart message: ZeroMQ hands every frame over as a Buffer. */
export type Frames = Buffer[];

const EMPTY = Buffer.alloc(0);

/** The empty delimiter frame. */
export const EMPTY_FRAME: Buffer = EMPTY;

/** A frame as bytes: strings are UTF-8 encoded, byte views are wrapped without copying. */
export function frameBytes(frame: Frame): Buffer {
  if (typeof frame === 'string') return Buffer.from(frame, 'utf8');
  return Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
}

/** True when a received frame holds exactly these bytes. */
export function frameEquals(frame: Buffer | undefined, expected: Buffer): boolean {
  return frame !== undefined && frame.length === expected.length && frame.equals(expected);
}
