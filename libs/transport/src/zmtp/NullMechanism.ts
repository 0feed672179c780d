import { encodeCommand, encodeMetadata, isSubscriberSocket, parseCommand, parseMetadata } from './commands.js';
import { COMMAND, encodeFrame, encodeMessage, type WireFrame } from './framing.js';
import type { HandshakeStep, Mechanism } from './Mechanism.js';

/** Our READY: we are an XPUB. */
export const SERVER_METADATA = encodeMetadata({ 'Socket-Type': 'XPUB' });

/** Checks the metadata of a peer's READY (or CURVE INITIATE): a subscriber socket, or a refusal. */
export function admitPeer(metadata: Buffer): HandshakeStep | undefined {
  const properties = parseMetadata(metadata);
  if (!properties) return { refuse: 'handshake', detail: 'malformed metadata' };
  if (!isSubscriberSocket(properties)) return { refuse: 'socket-type', detail: `socket type ${properties.get('socket-type') ?? '(none)'} is no subscriber` };
  return undefined;
}

/** The NULL mechanism (RFC 37): one READY each way, then frames as they are. */
export class NullMechanism implements Mechanism {
  readonly name = 'NULL';

  handshake(frame: WireFrame): HandshakeStep {
    const command = parseCommand(frame.body);
    if ((frame.flags & COMMAND) === 0 || command?.name !== 'READY') return { refuse: 'handshake', detail: 'expected READY' };
    return admitPeer(command.data) ?? { send: encodeFrame(encodeCommand('READY', SERVER_METADATA), COMMAND), ready: true };
  }

  decode(frame: WireFrame): WireFrame {
    return frame;
  }

  encode(frames: readonly Buffer[]): Buffer {
    return encodeMessage(frames);
  }

  encodeCommand(body: Buffer): Buffer {
    return encodeFrame(body, COMMAND);
  }
}
