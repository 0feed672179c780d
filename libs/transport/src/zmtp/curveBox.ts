// NaCl's crypto_box over audited primitives (@noble/curves x25519, @noble/ciphers HSalsa20 and
// XSalsa20-Poly1305), as CurveZMQ (RFC 26) uses it. Boxes are MAC first, then ciphertext, as
// libzmq puts them on the wire (crypto_box without its zero padding).
import { x25519 } from '@noble/curves/ed25519.js';
import { hsalsa, xsalsa20poly1305 } from '@noble/ciphers/salsa.js';

/** "expand 32-byte k" as little-endian words: HSalsa20's constant. */
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);
const ZERO_NONCE = new Uint32Array(4);

export interface KeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

export function keyPair(): KeyPair {
  const { publicKey, secretKey } = x25519.keygen();
  return { publicKey, secretKey };
}

export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  return x25519.getPublicKey(secretKey);
}

/** crypto_box_beforenm: the shared key of a secret and a peer's public key; undefined for a weak public key. */
export function sharedKey(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array | undefined {
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(secretKey, publicKey);
  } catch {
    return undefined; // a low-order point: noble refuses the all-zero secret
  }
  const key = new Uint32Array(8);
  hsalsa(SIGMA, new Uint32Array(Uint8Array.from(shared).buffer), ZERO_NONCE, key);
  return new Uint8Array(key.buffer);
}

/** A 24-byte nonce: a 16- or 8-byte prefix and the rest. */
export function nonce(prefix: string, rest: Uint8Array): Uint8Array {
  const full = new Uint8Array(24);
  full.set(Buffer.from(prefix, 'latin1'));
  full.set(rest, prefix.length);
  return full;
}

export function seal(key: Uint8Array, fullNonce: Uint8Array, plaintext: Uint8Array): Buffer {
  const box = xsalsa20poly1305(key, fullNonce).encrypt(plaintext);
  return Buffer.from(box.buffer, box.byteOffset, box.byteLength);
}

/** The plaintext, or undefined when the box does not open (wrong key, tampered, too short). */
export function open(key: Uint8Array, fullNonce: Uint8Array, box: Uint8Array): Buffer | undefined {
  if (box.length < 16) return undefined;
  try {
    const plain = xsalsa20poly1305(key, fullNonce).decrypt(box);
    return Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength);
  } catch {
    return undefined;
  }
}
