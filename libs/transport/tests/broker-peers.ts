// Raw MDP/0.2 peers for the broker tests: bare DEALER sockets speaking RFC 18 frame by frame, in
// the classic framing or the packed one of revision 1.10 (FRAMES.md §1.12).
import { MessageCodec, newRequestId } from '@correio/codec';
import type { AnyEnvelope } from '@correio/protocol';
import * as zmq from 'zeromq';
import { packed } from './helpers/frames.js';

export const codec = new MessageCodec();
export const MDPC = 'MDPC02';
export const MDPW = 'MDPW02';
export const W = { READY: 1, REQUEST: 2, PARTIAL: 3, FINAL: 4, HEARTBEAT: 5, DISCONNECT: 6 } as const;
export const C = { REQUEST: 1, PARTIAL: 2, FINAL: 3 } as const;
export type Framing = 'classic' | 'packed';

/** A received message's header in either framing: its command, service or address, and body frames. */
export function header(frames: Buffer[], expected: string): { framing: Framing; command: number; tail: Buffer; body: Buffer[] } {
  const first = frames[0]!;
  if (first.length > 6 && first.subarray(0, 6).toString() === expected) return { framing: 'packed', command: first[6]!, tail: first.subarray(7), body: frames.slice(1) };
  if (first.toString() !== expected) throw new Error(`got a message whose header is not ${expected}`);
  const delimited = expected === MDPW && frames[1]![0] !== W.HEARTBEAT && frames[1]![0] !== W.DISCONNECT;
  return { framing: 'classic', command: frames[1]![0]!, tail: frames[2] ?? Buffer.alloc(0), body: frames.slice(delimited ? 4 : 3) };
}

const sockets: zmq.Socket[] = [];

/** A DEALER connected to `endpoint`, whose receive gives up after `timeoutMs`. */
export function dealer(endpoint: string, timeoutMs = 3_000): zmq.Dealer {
  const socket = new zmq.Dealer({ linger: 0, receiveTimeout: timeoutMs, sendTimeout: 1_000 });
  socket.connect(endpoint);
  sockets.push(socket);
  return socket;
}

/** Closes every socket the peers opened (call in afterEach). */
export function closePeers(): void {
  for (const socket of sockets.splice(0)) if (!socket.closed) socket.close();
}

export function byte(value: number): Buffer {
  return Buffer.from([value]);
}

export function pollRequest(round: number, id: string = newRequestId(), lc = 1): { id: string; bytes: Buffer } {
  const bytes = Buffer.from(codec.encode({ v: 1, type: 'clock.poll.request', id, from: 'test-client', lc, ts: Date.now(), body: { round } }));
  return { id, bytes };
}

export function pollReply(request: AnyEnvelope, from = 'test-worker'): Buffer {
  const body = request.body as { round: number };
  return Buffer.from(codec.encode({ v: 1, type: 'clock.poll.reply', id: request.id, from, lc: request.lc + 1, ts: Date.now(), body: { round: body.round, time: Date.now() } }));
}

/** Receives or returns undefined after the socket's receive timeout. */
export async function receiveOrNothing(socket: zmq.Dealer): Promise<Buffer[] | undefined> {
  try {
    return await socket.receive();
  } catch (error) {
    if ((error as { code?: string }).code === 'EAGAIN') return undefined;
    throw error;
  }
}

export class RawWorker {
  readonly socket: zmq.Dealer;

  constructor(
    endpoint: string,
    readonly service: string,
    timeoutMs = 3_000,
    readonly framing: Framing = 'classic',
  ) {
    this.socket = dealer(endpoint, timeoutMs);
  }

  async ready(): Promise<this> {
    await this.socket.send(this.framing === 'packed' ? [packed(MDPW, W.READY, this.service)] : [MDPW, byte(W.READY), this.service]);
    return this;
  }

  heartbeat(): Promise<void> {
    return this.socket.send(this.framing === 'packed' ? [packed(MDPW, W.HEARTBEAT)] : [MDPW, byte(W.HEARTBEAT)]);
  }

  /** The next REQUEST, skipping heartbeats. */
  async nextRequest(): Promise<{ client: Buffer; envelope: AnyEnvelope; body: Buffer[] }> {
    for (let i = 0; i < 100; i++) {
      const frames = await this.socket.receive();
      const { framing, command, tail, body } = header(frames, MDPW);
      if (framing !== this.framing) throw new Error(`a ${this.framing} worker got a ${framing} message`);
      if (command === W.HEARTBEAT) continue;
      if (command !== W.REQUEST) throw new Error(`worker expected REQUEST, got command ${command}`);
      if (framing === 'classic' && frames[3]!.length !== 0) throw new Error('REQUEST lacks the empty delimiter');
      return { client: tail, envelope: codec.decode(body[0]!), body };
    }
    throw new Error('only heartbeats');
  }

  /** The next command other than HEARTBEAT, or undefined after the receive timeout. */
  async nextCommand(): Promise<number | undefined> {
    for (let i = 0; i < 100; i++) {
      const frames = await receiveOrNothing(this.socket);
      if (frames === undefined) return undefined;
      const { framing, command } = header(frames, MDPW);
      if (framing !== this.framing) throw new Error(`a ${this.framing} worker got a ${framing} message`);
      if (command !== W.HEARTBEAT) return command;
    }
    return undefined;
  }

  reply(client: Buffer, body: Buffer, final = true): Promise<void> {
    const command = final ? W.FINAL : W.PARTIAL;
    return this.socket.send(this.framing === 'packed' ? [packed(MDPW, command, client), body] : [MDPW, byte(command), client, Buffer.alloc(0), body]);
  }

  /** Serves `count` requests with clock.poll.reply. */
  async serve(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const { client, envelope } = await this.nextRequest();
      await this.reply(client, pollReply(envelope));
    }
  }
}

export class RawClient {
  readonly socket: zmq.Dealer;

  constructor(
    endpoint: string,
    timeoutMs = 3_000,
    readonly framing: Framing = 'classic',
  ) {
    this.socket = dealer(endpoint, timeoutMs);
  }

  send(service: string, ...body: Buffer[]): Promise<void> {
    return this.socket.send(this.framing === 'packed' ? [packed(MDPC, C.REQUEST, service), ...body] : [MDPC, byte(C.REQUEST), service, ...body]);
  }

  /** The next reply: its command, service and envelope (decoded when it is one); it must come in the client's framing. */
  async reply(): Promise<{ command: number; service: string; frames: Buffer[]; envelope: AnyEnvelope }> {
    const { framing, command, tail, body } = header(await this.socket.receive(), MDPC);
    if (framing !== this.framing) throw new Error(`a ${this.framing} client got a ${framing} reply`);
    return { command, service: tail.toString(), frames: body, envelope: codec.decode(body[0]!) };
  }

  async replyOrNothing(): Promise<Buffer[] | undefined> {
    return receiveOrNothing(this.socket);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every 10 ms until it holds or `timeoutMs` passes. */
export async function eventually(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}
