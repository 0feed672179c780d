/** ZMTP 3.1 greeting (RFC 37): signature, version, mechanism, as-server, filler; 64 bytes. */
export const GREETING_BYTES = 64;

/** The mechanisms this implementation serves. */
export type MechanismName = 'NULL' | 'CURVE';

/** Our greeting: ZMTP 3.1 (so libzmq peers send SUBSCRIBE/CANCEL commands), as a server. */
export function encodeGreeting(mechanism: MechanismName): Buffer {
  const greeting = Buffer.alloc(GREETING_BYTES);
  greeting[0] = 0xff;
  greeting[9] = 0x7f;
  greeting[10] = 3;
  greeting[11] = 1;
  greeting.write(mechanism, 12, 'latin1');
  greeting[32] = 1; // as-server
  return greeting;
}

/** Why a peer's greeting is refused: not ZMTP 3.x, or another mechanism than ours. */
export type GreetingRefusal = 'greeting' | 'mechanism';

/** Checks a peer's 64-byte greeting against the mechanism we serve; undefined when it fits. */
export function checkGreeting(greeting: Buffer, mechanism: MechanismName): GreetingRefusal | undefined {
  if (greeting[0] !== 0xff || (greeting[9]! & 0x01) !== 1 || greeting[10]! < 3) return 'greeting';
  const name = greeting.subarray(12, 32);
  const end = name.indexOf(0);
  return name.toString('latin1', 0, end === -1 ? 20 : end) === mechanism ? undefined : 'mechanism';
}
