// Majordomo Protocol 0.2 (ZeroMQ RFC 18) framing, for the client, the worker and the broker.
// Frames are listed as a DEALER sends and receives them; a ROUTER peer sees the sender's routing
// id in front and must strip it before parsing and prepend it when sending.
import { EMPTY_FRAME, frameEquals, type Frame, type Frames } from './frames.js';

/** Frame 0 of every client message: "MDPC02". */
export const MDP_CLIENT: Buffer = Buffer.from('MDPC02');
/** Frame 0 of every worker message: "MDPW02". */
export const MDP_WORKER: Buffer = Buffer.from('MDPW02');

export const ClientCommand = Object.freeze({ Request: 0x01, Partial: 0x02, Final: 0x03 });
export const WorkerCommand = Object.freeze({ Ready: 0x01, Request: 0x02, Partial: 0x03, Final: 0x04, Heartbeat: 0x05, Disconnect: 0x06 });

const COMMAND_FRAMES: readonly Buffer[] = Array.from({ length: 7 }, (_, command) => Buffer.of(command));
const command = (code: number): Buffer => COMMAND_FRAMES[code]!;

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

// ---- builders -------------------------------------------------------------------------------

/** Client → broker: REQUEST ["MDPC02", 0x01, service, body...]. */
export function clientRequest(service: string, body: readonly Frame[]): Frame[] {
  return [MDP_CLIENT, command(ClientCommand.Request), checkService(service), ...body];
}

/** Broker → client: PARTIAL ["MDPC02", 0x02, service, body...] or FINAL ["MDPC02", 0x03, service, body...]. */
export function clientReply(kind: 'partial' | 'final', service: string, body: readonly Frame[]): Frame[] {
  return [MDP_CLIENT, command(kind === 'partial' ? ClientCommand.Partial : ClientCommand.Final), service, ...body];
}

/** Worker → broker: READY ["MDPW02", 0x01, service]. */
export function workerReady(service: string): Frame[] {
  return [MDP_WORKER, command(WorkerCommand.Ready), checkService(service)];
}

/** Broker → worker: REQUEST ["MDPW02", 0x02, client address, "", body...]. */
export function workerRequest(client: Frame, body: readonly Frame[]): Frame[] {
  return [MDP_WORKER, command(WorkerCommand.Request), client, EMPTY_FRAME, ...body];
}

/** Worker → broker: PARTIAL ["MDPW02", 0x03, client, "", body...] or FINAL ["MDPW02", 0x04, client, "", body...]. */
export function workerReply(kind: 'partial' | 'final', client: Frame, body: readonly Frame[]): Frame[] {
  return [MDP_WORKER, command(kind === 'partial' ? WorkerCommand.Partial : WorkerCommand.Final), client, EMPTY_FRAME, ...body];
}

/** Either direction: HEARTBEAT ["MDPW02", 0x05]. */
export function workerHeartbeat(): Frame[] {
  return [MDP_WORKER, command(WorkerCommand.Heartbeat)];
}

/** Either direction: DISCONNECT ["MDPW02", 0x06]. */
export function workerDisconnect(): Frame[] {
  return [MDP_WORKER, command(WorkerCommand.Disconnect)];
}

// ---- parsers --------------------------------------------------------------------------------

/** A message that is not valid MDP/0.2; `reason` says why, for logs and counters. */
export interface Malformed {
  readonly kind: 'malformed';
  readonly reason: string;
}

export type ClientMessage =
  | { readonly kind: 'request' | 'partial' | 'final'; readonly service: string; readonly body: Frames }
  | Malformed;

export type WorkerMessage =
  | { readonly kind: 'ready'; readonly service: string }
  | { readonly kind: 'request' | 'partial' | 'final'; readonly client: Buffer; readonly body: Frames }
  | { readonly kind: 'heartbeat' }
  | { readonly kind: 'disconnect' }
  | Malformed;

const malformed = (reason: string): Malformed => ({ kind: 'malformed', reason });

function commandOf(frames: Frames): number | undefined {
  const frame = frames[1];
  return frame !== undefined && frame.length === 1 ? frame[0] : undefined;
}

function serviceOf(frame: Buffer | undefined): string | undefined {
  if (frame === undefined) return undefined;
  const service = frame.toString('latin1');
  return isServiceName(service) ? service : undefined;
}

/** Parses a client-protocol message (either direction). */
export function parseClientMessage(frames: Frames): ClientMessage {
  if (!frameEquals(frames[0], MDP_CLIENT)) return malformed('frame 0 is not MDPC02');
  const code = commandOf(frames);
  const kind = code === ClientCommand.Request ? 'request' : code === ClientCommand.Partial ? 'partial' : code === ClientCommand.Final ? 'final' : undefined;
  if (kind === undefined) return malformed(`unknown client command ${frames[1]?.toString('hex') ?? '(missing)'}`);
  const service = serviceOf(frames[2]);
  if (service === undefined) return malformed('missing or invalid service name');
  if (frames.length < 4) return malformed(`${kind} without a body`);
  return { kind, service, body: frames.slice(3) };
}

/** Parses a worker-protocol message (either direction). */
export function parseWorkerMessage(frames: Frames): WorkerMessage {
  if (!frameEquals(frames[0], MDP_WORKER)) return malformed('frame 0 is not MDPW02');
  switch (commandOf(frames)) {
    case WorkerCommand.Ready: {
      const service = serviceOf(frames[2]);
      if (service === undefined || frames.length !== 3) return malformed('READY needs exactly one valid service name');
      return { kind: 'ready', service };
    }
    case WorkerCommand.Request:
    case WorkerCommand.Partial:
    case WorkerCommand.Final: {
      const code = commandOf(frames);
      const kind = code === WorkerCommand.Request ? 'request' : code === WorkerCommand.Partial ? 'partial' : 'final';
      const client = frames[2];
      if (client === undefined || client.length === 0) return malformed(`${kind} without a client address`);
      if (frames[3] === undefined || frames[3].length !== 0) return malformed(`${kind} without the empty delimiter after the client address`);
      if (frames.length < 5) return malformed(`${kind} without a body`);
      return { kind, client, body: frames.slice(4) };
    }
    case WorkerCommand.Heartbeat:
      return frames.length === 2 ? { kind: 'heartbeat' } : malformed('HEARTBEAT with extra frames');
    case WorkerCommand.Disconnect:
      return frames.length === 2 ? { kind: 'disconnect' } : malformed('DISCONNECT with extra frames');
    default:
      return malformed(`unknown worker command ${frames[1]?.toString('hex') ?? '(missing)'}`);
  }
}
