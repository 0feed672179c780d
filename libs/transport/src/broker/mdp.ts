// MDP/0.2 wire constants (ZeroMQ RFC 18, protocol/FRAMES.md §1), classic and packed (§1.12). Private to the broker.
import { HEADER_BYTES, isPackedHeader, packedHeader } from '../mdp.js';

export { HEADER_BYTES, isPackedHeader, packedHeader };

export const CLIENT_HEADER = Buffer.from('MDPC02');
export const WORKER_HEADER = Buffer.from('MDPW02');
export const EMPTY = Buffer.alloc(0);

/** MDP/Client commands (one byte frames). */
export const ClientCommand = { REQUEST: 0x01, PARTIAL: 0x02, FINAL: 0x03 } as const;

/** MDP/Worker commands (one byte frames). */
export const WorkerCommand = { READY: 0x01, REQUEST: 0x02, PARTIAL: 0x03, FINAL: 0x04, HEARTBEAT: 0x05, DISCONNECT: 0x06 } as const;

export const CLIENT_PARTIAL = Buffer.from([ClientCommand.PARTIAL]);
export const CLIENT_FINAL = Buffer.from([ClientCommand.FINAL]);
export const WORKER_REQUEST = Buffer.from([WorkerCommand.REQUEST]);
export const WORKER_HEARTBEAT = Buffer.from([WorkerCommand.HEARTBEAT]);
export const WORKER_DISCONNECT = Buffer.from([WorkerCommand.DISCONNECT]);

export const PACKED_HEARTBEAT = packedHeader(WORKER_HEADER, WorkerCommand.HEARTBEAT);
export const PACKED_DISCONNECT = packedHeader(WORKER_HEADER, WorkerCommand.DISCONNECT);

/** The namespace RFC 8 reserves for services the broker answers itself. */
export const MMI_PREFIX = 'mmi.';
export const MMI_SERVICE = 'mmi.service';
export const MMI_FOUND = Buffer.from('200');
export const MMI_NOT_FOUND = Buffer.from('404');
export const MMI_NOT_IMPLEMENTED = Buffer.from('501');

/** A service name is 1–255 bytes of printable ASCII, 0x21–0x7e (FRAMES.md notation table). */
export function isServiceName(frame: Buffer): boolean {
  if (frame.length < 1 || frame.length > 255) return false;
  for (let i = 0; i < frame.length; i++) {
    const byte = frame[i]!;
    if (byte < 0x21 || byte > 0x7e) return false;
  }
  return true;
}

/** True when `frame` is a one-byte command frame. */
export function commandOf(frame: Buffer | undefined): number | undefined {
  return frame !== undefined && frame.length === 1 ? frame[0] : undefined;
}
