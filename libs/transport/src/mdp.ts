// Majordomo Protocol 0.2 (ZeroMQ RFC 18) framing, for the client, the worker and the broker, in
// its classic form and the packed form of revision 1.10 (protocol/FRAMES.md §1.12). Frames are
// listed as a DEALER sends and receives them; a ROUTER peer sees the sender's routing id in front
// and must strip it before parsing and prepend it when sending.
import { EMPTY_FRAME, frameEquals, type Frame, type Frames } from './frames.js';

/** Frame 0 of every client message: "MDPC02". */
export const MDP_CLIENT: Buffer = Buffer.from('MDPC02');
/** Frame 0 of every worker message: "MDPW02". */
export const MDP_WORKER: Buffer = Buffer.from('MDPW02');

export const ClientCommand = Object.freeze({ Request: 0x01, Partial: 0x02, Final: 0x03 });
export const WorkerCommand = Object.freeze({ Ready: 0x01, Request: 0x02, Partial: 0x03, Final: 0x04, Heartbeat: 0x05, Disconnect: 0x06 });

/**
 * How the header is framed: `classic` is RFC 18's header, command and service or address in
 * frames of their own; `packed` (revision 1.10) puts them in one frame, which costs each ZeroMQ
 * peer fewer frames per message. Older brokers and other RFC 18 brokers know only `classic`.
 */
export type Framing = 'packed' | 'classic';

/**
 * The framing a RequestClient or Worker starts with when given none: `CORREIO_MDP_FRAMING`
 * (`packed` or `classic`; for a rolling upgrade whose brokers are still older than revision 1.10),
 * else `packed`.
 */
export function defaultFraming(): Framing {
  const value = process.env['CORREIO_MDP_FRAMING'];
  if (value === undefined || value === '') return 'packed';
  if (value === 'packed' || value === 'classic') return value;
  throw new RangeError(`CORREIO_MDP_FRAMING must be packed or classic, not ${JSON.stringify(value)}`);
}

const COMMAND_FRAMES: readonly Buffer[] = Array.from({ length: 7 }, (_, command) => Buffer.of(command));
const command = (code: number): Buffer => COMMAND_FRAMES[code]!;

/** Bytes of the protocol header ("MDPC02", "MDPW02"); byte 6 of a packed header is the command. */
export const HEADER_BYTES = 6;

/** True when `frame` is a packed header of `header`'s protocol: longer than its 6 bytes, which it starts with. */
export function isPackedHeader(frame: Buffer, header: Buffer): boolean {
  return frame.length > HEADER_BYTES && frame.compare(header, 0, HEADER_BYTES, 0, HEADER_BYTES) === 0;
}

/** A command byte as logs show it: two hex digits. */
const hexByte = (code: number): string => code.toString(16).padStart(2, '0');

/** The longest service name accepted, in bytes. */
export const MAX_SERVICE_NAME_BYTES = 255;

/** A broker service name: 1–255 bytes of printable ASCII, 0x21–0x7e (protocol/FRAMES.md). */
export function isServiceName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_SERVICE_NAME_BYTES && /^[\x21-\x7e]+$/.test(name);
}

function checkService(service: string): string {
  if (!isServiceName(service)) throw new RangeError(`invalid MDP service name ${JSON.stringify(service)}: 1–255 printable ASCII characters, no spaces`);
  return service;
}

/** One packed header frame: the protocol header, the command byte, then `tail` (a service name or client address). */
export function packedHeader(header: Buffer, code: number, tail: Uint8Array | string = EMPTY_FRAME): Buffer {
  const tailBytes = typeof tail === 'string' ? Buffer.byteLength(tail, 'latin1') : tail.length;
  const frame = Buffer.allocUnsafe(HEADER_BYTES + 1 + tailBytes);
  header.copy(frame, 0);
  frame[HEADER_BYTES] = code;
  if (typeof tail === 'string') frame.write(tail, HEADER_BYTES + 1, 'latin1');
  else frame.set(tail, HEADER_BYTES + 1);
  return frame;
}

// Each packed header is built afresh (a pooled allocation and a copy of a few bytes): a cache by
// service would hold names a peer chose, such as those a server's endpoint answers UNKNOWN_SERVICE.
function clientMessage(code: number, service: string, body: readonly Frame[], framing: Framing): Frame[] {
  return framing === 'packed' ? [packedHeader(MDP_CLIENT, code, service), ...body] : [MDP_CLIENT, command(code), service, ...body];
}

function workerMessage(code: number, tail: Frame | undefined, body: readonly Frame[], framing: Framing): Frame[] {
  if (framing === 'packed') return [packedHeader(MDP_WORKER, code, tail), ...body];
  if (tail === undefined) return [MDP_WORKER, command(code)];
  return code === WorkerCommand.Ready ? [MDP_WORKER, command(code), tail] : [MDP_WORKER, command(code), tail, EMPTY_FRAME, ...body];
}

// ---- builders -------------------------------------------------------------------------------

/** Client → broker: REQUEST ["MDPC02", 0x01, service, body...], packed ["MDPC02" 0x01 service, body...]. */
export function clientRequest(service: string, body: readonly Frame[], framing: Framing = 'classic'): Frame[] {
  return clientMessage(ClientCommand.Request, checkService(service), body, framing);
}

/** Broker → client: PARTIAL ["MDPC02", 0x02, service, body...] or FINAL ["MDPC02", 0x03, service, body...]. */
export function clientReply(kind: 'partial' | 'final', service: string, body: readonly Frame[], framing: Framing = 'classic'): Frame[] {
  return clientMessage(kind === 'partial' ? ClientCommand.Partial : ClientCommand.Final, service, body, framing);
}

/** Worker → broker: READY ["MDPW02", 0x01, service]. */
export function workerReady(service: string, framing: Framing = 'classic'): Frame[] {
  return workerMessage(WorkerCommand.Ready, checkService(service), [], framing);
}

/** Broker → worker: REQUEST ["MDPW02", 0x02, client address, "", body...]. */
export function workerRequest(client: Frame, body: readonly Frame[], framing: Framing = 'classic'): Frame[] {
  return workerMessage(WorkerCommand.Request, client, body, framing);
}

/** Worker → broker: PARTIAL ["MDPW02", 0x03, client, "", body...] or FINAL ["MDPW02", 0x04, client, "", body...]. */
export function workerReply(kind: 'partial' | 'final', client: Frame, body: readonly Frame[], framing: Framing = 'classic'): Frame[] {
  return workerMessage(kind === 'partial' ? WorkerCommand.Partial : WorkerCommand.Final, client, body, framing);
}

/** Either direction: HEARTBEAT ["MDPW02", 0x05]. */
export function workerHeartbeat(framing: Framing = 'classic'): Frame[] {
  return workerMessage(WorkerCommand.Heartbeat, undefined, [], framing);
}

/** Either direction: DISCONNECT ["MDPW02", 0x06]. */
export function workerDisconnect(framing: Framing = 'classic'): Frame[] {
  return workerMessage(WorkerCommand.Disconnect, undefined, [], framing);
}

// ---- parsers --------------------------------------------------------------------------------

/** A message that is not valid MDP/0.2; `reason` says why, for logs and counters. */
export interface Malformed {
  readonly kind: 'malformed';
  readonly reason: string;
}

export type ClientMessage =
  | { readonly kind: 'request' | 'partial' | 'final'; readonly service: string; readonly body: Frames; readonly framing: Framing }
  | Malformed;

export type WorkerMessage =
  | { readonly kind: 'ready'; readonly service: string; readonly framing: Framing }
  | { readonly kind: 'request' | 'partial' | 'final'; readonly client: Buffer; readonly body: Frames; readonly framing: Framing }
  | { readonly kind: 'heartbeat'; readonly framing: Framing }
  | { readonly kind: 'disconnect'; readonly framing: Framing }
  | Malformed;

const malformed = (reason: string): Malformed => ({ kind: 'malformed', reason });

/**
 * A message's header in one shape for both framings: the command, the service name or client
 * address (`tail`, undefined when absent), the body frames, and whether anything else stands
 * between header and body (a classic worker reply's delimiter, `delimited`).
 */
interface Header {
  readonly framing: Framing;
  readonly code: number | undefined;
  readonly tail: Buffer | undefined;
  readonly body: Frames;
  readonly delimited: boolean;
}

/** Reads the header of a client or worker message, or undefined when frame 0 is not `expected`'s. */
function readHeader(frames: Frames, expected: Buffer, withDelimiter: boolean): Header | undefined {
  const first = frames[0];
  if (first === undefined) return undefined;
  if (frameEquals(first, expected)) {
    const code = frames[1] !== undefined && frames[1].length === 1 ? frames[1][0] : undefined;
    const delimited = withDelimiter && frames[3] !== undefined && frames[3].length === 0;
    const bodyStart = withDelimiter ? 4 : 3;
    return { framing: 'classic', code, tail: frames[2], body: frames.slice(bodyStart), delimited };
  }
  if (!isPackedHeader(first, expected)) return undefined;
  const tail = first.length > HEADER_BYTES + 1 ? first.subarray(HEADER_BYTES + 1) : undefined;
  return { framing: 'packed', code: first[HEADER_BYTES], tail, body: frames.slice(1), delimited: withDelimiter };
}

function serviceOf(frame: Buffer | undefined): string | undefined {
  if (frame === undefined) return undefined;
  const service = frame.toString('latin1');
  return isServiceName(service) ? service : undefined;
}

/** Parses a client-protocol message (either direction, either framing). */
export function parseClientMessage(frames: Frames): ClientMessage {
  const header = readHeader(frames, MDP_CLIENT, false);
  if (header === undefined) return malformed('frame 0 is not MDPC02');
  const { code } = header;
  const kind = code === ClientCommand.Request ? 'request' : code === ClientCommand.Partial ? 'partial' : code === ClientCommand.Final ? 'final' : undefined;
  if (kind === undefined) return malformed(`unknown client command ${code === undefined ? (frames[1]?.toString('hex') ?? '(missing)') : hexByte(code)}`);
  const service = serviceOf(header.tail);
  if (service === undefined) return malformed('missing or invalid service name');
  if (header.body.length === 0) return malformed(`${kind} without a body`);
  return { kind, service, body: header.body, framing: header.framing };
}

/** Parses a worker-protocol message (either direction, either framing). */
export function parseWorkerMessage(frames: Frames): WorkerMessage {
  const header = readHeader(frames, MDP_WORKER, true);
  if (header === undefined) return malformed('frame 0 is not MDPW02');
  const { code, framing } = header;
  switch (code) {
    case WorkerCommand.Ready: {
      const service = serviceOf(header.tail);
      const extra = framing === 'packed' ? frames.length !== 1 : frames.length !== 3;
      if (service === undefined || extra) return malformed('READY needs exactly one valid service name');
      return { kind: 'ready', service, framing };
    }
    case WorkerCommand.Request:
    case WorkerCommand.Partial:
    case WorkerCommand.Final: {
      const kind = code === WorkerCommand.Request ? 'request' : code === WorkerCommand.Partial ? 'partial' : 'final';
      const client = header.tail;
      if (client === undefined || client.length === 0) return malformed(`${kind} without a client address`);
      if (!header.delimited) return malformed(`${kind} without the empty delimiter after the client address`);
      if (header.body.length === 0) return malformed(`${kind} without a body`);
      return { kind, client, body: header.body, framing };
    }
    case WorkerCommand.Heartbeat:
    case WorkerCommand.Disconnect: {
      const kind = code === WorkerCommand.Heartbeat ? 'heartbeat' : 'disconnect';
      const bare = framing === 'packed' ? frames.length === 1 && header.tail === undefined : frames.length === 2;
      return bare ? { kind, framing } : malformed(`${kind.toUpperCase()} with extra frames`);
    }
    default:
      return malformed(`unknown worker command ${code === undefined ? (frames[1]?.toString('hex') ?? '(missing)') : hexByte(code)}`);
  }
}
