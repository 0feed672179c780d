import { randomBytes, timingSafeEqual } from 'node:crypto';
import { z85Encode } from '../z85.js';
import { parseCommand } from './commands.js';
import { keyPair, nonce, open, seal, sharedKey, type KeyPair } from './curveBox.js';
import { COMMAND, MORE, encodeFrame, type WireFrame } from './framing.js';
import type { HandshakeStep, Mechanism } from './Mechanism.js';
import { SERVER_METADATA, admitPeer } from './NullMechanism.js';

/** The server's long-term keys and who may connect. */
export interface CurveServerKeys {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
  /** Z85 public keys of the clients admitted; every client with the server key is admitted when absent. */
  readonly allow?: ReadonlySet<string>;
}

const HELLO_BYTES = 200;
/** The flags inside a MESSAGE box are libzmq's message flags, not the wire's: more 1, command 2. */
const BOXED_MORE = 0x01;
const BOXED_COMMAND = 0x02;
const WELCOME_NAME = Buffer.from('\x07WELCOME', 'latin1');
const MESSAGE_NAME = Buffer.from('\x07MESSAGE', 'latin1');
const READY_NAME = Buffer.from('\x05READY', 'latin1');

function nonce8(counter: bigint): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(counter);
  return bytes;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The CURVE mechanism (ZMTP-CURVE, CurveZMQ RFC 26), server side: HELLO → WELCOME (with a cookie)
 * → INITIATE (the client's long-term key, vouched for) → READY, then every frame a MESSAGE box
 * with a strictly increasing nonce each way.
 */
export class CurveServerMechanism implements Mechanism {
  readonly name = 'CURVE';
  readonly #keys: CurveServerKeys;
  #state: 'hello' | 'initiate' | 'ready' = 'hello';
  #clientTransient: Uint8Array | undefined;
  #transient: KeyPair | undefined;
  #cookieKey: Uint8Array | undefined;
  /** The shared key of the session (s', C'), once WELCOME is out. */
  #session: Uint8Array | undefined;
  #sent = 1n;
  #received = 0n;
  /** The client's long-term key (Z85), once known. */
  clientKey: string | undefined;

  constructor(keys: CurveServerKeys) {
    this.#keys = keys;
  }

  handshake(frame: WireFrame): HandshakeStep {
    const command = (frame.flags & COMMAND) !== 0 ? parseCommand(frame.body) : undefined;
    if (this.#state === 'hello' && command?.name === 'HELLO') return this.#hello(frame.body);
    if (this.#state === 'initiate' && command?.name === 'INITIATE') return this.#initiate(frame.body);
    return { refuse: 'handshake', detail: `unexpected ${command?.name ?? 'frame'} in the CURVE handshake` };
  }

  #hello(body: Buffer): HandshakeStep {
    if (body.length !== HELLO_BYTES || body[6] !== 1 || body[7] !== 0) return { refuse: 'handshake', detail: 'malformed HELLO' };
    const clientTransient = body.subarray(80, 112);
    const key = sharedKey(this.#keys.secretKey, clientTransient);
    const opened = key && open(key, nonce('CurveZMQHELLO---', body.subarray(112, 120)), body.subarray(120, 200));
    if (!key || !opened) return { refuse: 'auth', detail: 'HELLO does not open: wrong server key?' };
    this.#received = body.readBigUInt64BE(112);
    this.#clientTransient = Uint8Array.from(clientTransient);
    this.#transient = keyPair();
    this.#cookieKey = randomBytes(32);
    const cookieNonce = randomBytes(16);
    const cookie = seal(this.#cookieKey, nonce('COOKIE--', cookieNonce), Buffer.concat([this.#clientTransient, this.#transient.secretKey]));
    const welcomeNonce = randomBytes(16);
    const box = seal(key, nonce('WELCOME-', welcomeNonce), Buffer.concat([this.#transient.publicKey, cookieNonce, cookie]));
    this.#state = 'initiate';
    return { send: encodeFrame(Buffer.concat([WELCOME_NAME, welcomeNonce, box]), COMMAND) };
  }

  #initiate(body: Buffer): HandshakeStep {
    const clientTransient = this.#clientTransient!;
    const transient = this.#transient!;
    if (body.length < 257) return { refuse: 'handshake', detail: 'malformed INITIATE' };
    const cookie = open(this.#cookieKey!, nonce('COOKIE--', body.subarray(9, 25)), body.subarray(25, 105));
    if (!cookie || !same(cookie.subarray(0, 32), clientTransient) || !same(cookie.subarray(32, 64), transient.secretKey)) return { refuse: 'auth', detail: 'INITIATE cookie invalid' };
    const counter = body.readBigUInt64BE(105);
    if (counter <= this.#received) return { refuse: 'handshake', detail: 'INITIATE nonce not increasing' };
    this.#session = sharedKey(transient.secretKey, clientTransient);
    const plain = this.#session && open(this.#session, nonce('CurveZMQINITIATE', body.subarray(105, 113)), body.subarray(113));
    if (!plain || plain.length < 128) return { refuse: 'auth', detail: 'INITIATE does not open' };
    this.#received = counter;
    const clientKey = plain.subarray(0, 32);
    const vouchKey = sharedKey(transient.secretKey, clientKey);
    const vouch = vouchKey && open(vouchKey, nonce('VOUCH---', plain.subarray(32, 48)), plain.subarray(48, 128));
    if (!vouch || !same(vouch.subarray(0, 32), clientTransient) || !same(vouch.subarray(32, 64), this.#keys.publicKey)) return { refuse: 'auth', detail: 'INITIATE vouch invalid' };
    this.clientKey = z85Encode(clientKey);
    if (this.#keys.allow && !this.#keys.allow.has(this.clientKey)) return { refuse: 'auth', detail: 'client key not allowed' };
    const refusal = admitPeer(plain.subarray(128));
    if (refusal) return refusal;
    this.#cookieKey = undefined;
    this.#state = 'ready';
    const short = nonce8(this.#sent++);
    const ready = seal(this.#session!, nonce('CurveZMQREADY---', short), SERVER_METADATA);
    return { send: encodeFrame(Buffer.concat([READY_NAME, short, ready]), COMMAND), ready: true };
  }

  decode(frame: WireFrame): WireFrame | undefined {
    const body = frame.body;
    if (body.length < 33 || !body.subarray(0, 8).equals(MESSAGE_NAME)) return undefined;
    const counter = body.readBigUInt64BE(8);
    if (counter <= this.#received) return undefined;
    const plain = open(this.#session!, nonce('CurveZMQMESSAGEC', body.subarray(8, 16)), body.subarray(16));
    if (!plain) return undefined;
    this.#received = counter;
    return { flags: (plain[0]! & BOXED_MORE ? MORE : 0) | (plain[0]! & BOXED_COMMAND ? COMMAND : 0), body: plain.subarray(1) };
  }

  encode(frames: readonly Buffer[]): Buffer {
    return Buffer.concat(frames.map((frame, i) => this.#box(frame, i < frames.length - 1 ? BOXED_MORE : 0)));
  }

  encodeCommand(body: Buffer): Buffer {
    return this.#box(body, BOXED_COMMAND);
  }

  /** One frame in a MESSAGE box; the flags travel inside it. */
  #box(frame: Buffer, flags: number): Buffer {
    const short = nonce8(this.#sent++);
    const box = seal(this.#session!, nonce('CurveZMQMESSAGES', short), Buffer.concat([Buffer.from([flags]), frame]));
    return encodeFrame(Buffer.concat([MESSAGE_NAME, short, box]));
  }
}
