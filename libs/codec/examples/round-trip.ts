// Encodes an envelope to its canonical bytes, decodes it back, and shows the typed errors bad input becomes.
// Run from the repository root: npx tsx --conditions=@correio/source libs/codec/examples/round-trip.ts
import { CorreioError, Decoder, MessageCodec, decode, encode } from '@correio/codec';
import type { Envelope } from '@correio/protocol';

const codec = new MessageCodec(); // reuse one per socket loop; limits default to DEFAULT_LIMITS

const login: Envelope<'chat.login.request'> = {
  v: 1,
  type: 'chat.login.request',
  id: 'AAAAAAAAAAAAAAAAAAAAAA', // newRequestId() in real code: 16 random bytes, base64url
  from: 'example',
  lc: 1,
  ts: 1_735_689_600_000,
  body: { user: 'ana' },
};
const bytes = codec.encode(login); // validated against envelope.json and chat.login.request.json
console.log('bytes  ', Buffer.from(bytes).toString('hex'));
console.log('decoded', JSON.stringify(codec.decode(bytes)));

// Canonical: keys sorted, shortest formats, whatever order the object was written in.
console.log('same bytes for {b, a} and {a, b}:', Buffer.from(encode({ b: 1, a: 2 })).equals(Buffer.from(encode({ a: 2, b: 1 }))));
console.log('plain value', JSON.stringify(decode(Uint8Array.from([0x92, 0x01, 0xa1, 0x78]))));

// Every failure is a CorreioError with a protocol error code; none is a crash.
const bad: [string, () => unknown][] = [
  ['0xc1', () => codec.decode(Uint8Array.from([0xc1]))],
  ['a float', () => decode(Uint8Array.from([0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]))],
  ['a length prefix of 4 GiB on 5 bytes', () => decode(Uint8Array.from([0xdb, 0xff, 0xff, 0xff, 0xff]))],
  ['a string over the limit', () => new Decoder({ maxStringBytes: 4 }).decode(encode('hello'))],
  ['a __proto__ key', () => decode(Uint8Array.from([0x81, 0xa9, ...Buffer.from('__proto__'), 0x01]))],
  ['an unknown type', () => codec.decode(encode({ ...login, type: 'chat.nope' }))],
  ['a body that breaks its schema', () => codec.encode({ ...login, body: { user: '' } })],
  ['version 2', () => codec.decode(encode({ ...login, v: 2 }))],
];
for (const [what, attempt] of bad) {
  try {
    attempt();
  } catch (error) {
    const failure = error as CorreioError;
    console.log(`${what}: ${failure.name} ${failure.code}: ${failure.message}`);
  }
}

// An error travels as the body of an `error` envelope and comes back as the same class.
const wire = new CorreioError('UNAVAILABLE', 'no server is ready').toWire();
const rebuilt = CorreioError.fromWire(wire);
console.log('from the wire:', JSON.stringify(wire), '→', rebuilt.name, rebuilt.retryable);
