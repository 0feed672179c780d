import type { WireFrame } from './framing.js';
import type { MechanismName } from './greeting.js';

/** Why a handshake ended in a refusal. */
export type HandshakeRefusal = 'handshake' | 'socket-type' | 'auth';

/** What one handshake command leads to: bytes to send, and either a peer ready or a refusal. */
export interface HandshakeStep {
  readonly send?: Buffer;
  readonly ready?: true;
  readonly refuse?: HandshakeRefusal;
  /** Why, for the log (never sent to the peer). */
  readonly detail?: string;
}

/** A security mechanism of one connection (server side): its handshake, then how frames are wrapped. */
export interface Mechanism {
  readonly name: MechanismName;
  /** One command frame of the handshake. */
  handshake(frame: WireFrame): HandshakeStep;
  /** A frame after the handshake as the peer meant it (flags MORE/COMMAND and body); undefined when it does not decode. */
  decode(frame: WireFrame): WireFrame | undefined;
  /** One message's frames, ready for the wire. */
  encode(frames: readonly Buffer[]): Buffer;
  /** One command (such as PONG), ready for the wire. */
  encodeCommand(body: Buffer): Buffer;
}
