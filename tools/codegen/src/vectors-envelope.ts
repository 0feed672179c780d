// protocol/vectors/v1/envelope.json: the envelope rules of ENCODING.md §3 that do not depend on a
// message type: the order of the checks, each envelope field, unknown types, and bytes that fail
// before any validation. Bodies are chat.login.request and service.call.request.
import { SuiteBuilder } from './vectors-builder.js';
import type { V1Value, VectorError, VectorSuite } from './vectors-format.js';
import { ACCESS_TOKEN } from './vector-samples.js';
import { envelope } from './vectors-messages.js';
import type { Oracle } from './vectors-oracle.js';
import { cat, rawArray, rawMap, referenceEncode as ref, stringAs, stringOfBytes, wideInteger } from './vectors-reference.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const LOGIN = 'chat.login.request';
const CALL = 'service.call.request';
const PRINTABLE = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).join('');
const ID_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-';

export function envelopeVectors(oracle: Oracle, warn: (message: string) => void): VectorSuite | undefined {
  if (!oracle.types.has(LOGIN)) {
    warn(`envelope.json: skipped, it needs the ${LOGIN} schema`);
    return undefined;
  }
  const b = new SuiteBuilder('envelope.json');
  const login = envelope(LOGIN, { user: 'ana' });
  const checked = (description: string, value: V1Value, expected: VectorError | undefined): void => {
    const verdict = oracle.classify(value);
    if (verdict !== expected) throw new Error(`envelope.json: "${description}" is ${verdict ?? 'valid'} by the schemas, not ${expected ?? 'valid'}`);
    if (expected === undefined) b.valid(description, value);
    else b.invalidValue(description, value, expected);
  };

  checked('a login request', login, undefined);
  checked('id of 1 character', { ...login, id: 'a' }, undefined);
  checked('id of 64 characters, every allowed one', { ...login, id: ID_ALPHABET }, undefined);
  checked('id of 22 characters of URL-safe base64 (as newRequestId makes)', { ...login, id: '-_AZaz09-_AZaz09-_AZaz' }, undefined);
  checked('from of 1 character', { ...login, from: '!' }, undefined);
  checked('from of 94 characters: every printable ASCII character but space', { ...login, from: PRINTABLE }, undefined);
  checked('from of 128 characters', { ...login, from: `${PRINTABLE}${PRINTABLE}`.slice(0, 128) }, undefined);
  checked('lc = 0', { ...login, lc: 0 }, undefined);
  checked('lc = 2^53-1', { ...login, lc: MAX_SAFE }, undefined);
  checked('ts = 0 (the epoch)', { ...login, ts: 0 }, undefined);
  checked('ts = 2^53-1', { ...login, ts: MAX_SAFE }, undefined);

  const loginBytes = ref(login);
  const entries = (value: Record<string, V1Value>, order: readonly string[], encode: (key: string, item: V1Value) => Uint8Array = (_, item) => ref(item)) =>
    rawMap(order.map((key) => [key, encode(key, value[key]!)] as const));
  const insertion = ['v', 'type', 'id', 'from', 'lc', 'ts', 'body'];
  b.decodeOnly('keys in insertion order v, type, id, from, lc, ts, body', entries(login, insertion), login);
  b.decodeOnly('v as uint64', entries(login, [...insertion].sort(), (key, item) => (key === 'v' ? wideInteger(1) : ref(item))), login);
  b.decodeOnly('v as int8', entries(login, [...insertion].sort(), (key, item) => (key === 'v' ? cat('d0 01') : ref(item))), login);
  b.decodeOnly('type as str8, body as map16', entries(login, [...insertion].sort(), (key, item) =>
    key === 'type' ? stringAs(0xd9, LOGIN) : key === 'body' ? cat('de 0001', ref('user'), ref('ana')) : ref(item),
  ), login);
  b.decodeOnly('lc and ts as 64-bit integers, keys reversed', ref(login, { reverseKeys: true, wideIntegers: true }), login);

  // §3: a map whose v is an integer, else VALIDATION.
  for (const [description, value] of [
    ['nil', null],
    ['an integer', 1],
    ['a string', 'chat.login.request'],
    ['an array', [1, LOGIN]],
    ['binary', Uint8Array.of(0x80)],
    ['an empty map', {}],
  ] as Array<[string, V1Value]>) {
    checked(`the message is ${description}, not an envelope map`, value, 'VALIDATION');
  }
  const withoutV: Record<string, V1Value> = { ...login };
  delete withoutV['v'];
  checked('v is missing', withoutV, 'VALIDATION');
  checked('v is the string "1"', { ...login, v: '1' }, 'VALIDATION');
  checked('v is true', { ...login, v: true }, 'VALIDATION');
  checked('v is nil', { ...login, v: null }, 'VALIDATION');
  checked('v is an array', { ...login, v: [1] }, 'VALIDATION');

  // Then the version, before the rest of the shape.
  checked('v = 2', { ...login, v: 2 }, 'UNSUPPORTED_VERSION');
  checked('v = 0', { ...login, v: 0 }, 'UNSUPPORTED_VERSION');
  checked('v = -1', { ...login, v: -1 }, 'UNSUPPORTED_VERSION');
  checked('v = 65535', { ...login, v: 65_535 }, 'UNSUPPORTED_VERSION');
  checked('v = 65536, beyond the envelope schema: the version check comes first', { ...login, v: 65_536 }, 'UNSUPPORTED_VERSION');
  checked('v = 2^53-1', { ...login, v: MAX_SAFE }, 'UNSUPPORTED_VERSION');
  checked('v = 2 and nothing else: the version check comes before the shape', { v: 2 }, 'UNSUPPORTED_VERSION');
  checked('v = 2 with an unknown type and a body that is not a map', { ...login, v: 2, type: 'nope.nothing', body: [] }, 'UNSUPPORTED_VERSION');
  checked('v = 2 with an invalid body', { ...login, v: 2, body: { user: '' } }, 'UNSUPPORTED_VERSION');

  // Then the envelope shape.
  for (const key of ['type', 'id', 'from', 'lc', 'ts', 'body']) {
    const value: Record<string, V1Value> = { ...login };
    delete value[key];
    checked(`${key} is missing`, value, 'VALIDATION');
  }
  checked('an extra envelope key', { ...login, extra: 1 }, 'VALIDATION');
  checked('an extra envelope key "trace"', { ...login, trace: 'abc' }, 'VALIDATION');
  const invalidFields: Array<[string, string, V1Value]> = [
    ['type', 'is empty', ''],
    ['type', 'has an upper-case letter', 'Chat.login.request'],
    ['type', 'has an empty segment', 'chat..login'],
    ['type', 'ends with a dot', 'chat.login.request.'],
    ['type', 'ends with a space', `${LOGIN} `],
    ['type', 'ends with a newline', `${LOGIN}\n`],
    ['type', 'has six segments', 'a.b.c.d.e.f'],
    ['type', 'is 65 characters', `a${'b'.repeat(64)}`],
    ['type', 'has a hyphen', 'chat.log-in.request'],
    ['type', 'is an integer', 12],
    ['type', 'is nil', null],
    ['id', 'is empty', ''],
    ['id', 'is 65 characters', `${ID_ALPHABET}x`],
    ['id', 'has a space', 'a b'],
    ['id', 'has a slash (base64, not base64url)', 'ab/cd'],
    ['id', 'has base64 padding', 'abcd=='],
    ['id', 'is not ASCII', 'pedido-ç'],
    ['id', 'ends with a newline', 'abc\n'],
    ['id', 'is an integer', 7],
    ['id', 'is binary', Uint8Array.of(0x61)],
    ['from', 'is empty', ''],
    ['from', 'is 129 characters', `${PRINTABLE}${PRINTABLE}`.slice(0, 129)],
    ['from', 'has a space', 'client 7'],
    ['from', 'has a DEL character', 'client\u007f'],
    ['from', 'is not ASCII', 'cliente-ç'],
    ['from', 'is an integer', 7],
    ['lc', 'is -1', -1],
    ['lc', 'is a string', '42'],
    ['lc', 'is nil', null],
    ['ts', 'is -1', -1],
    ['ts', 'is a string', '1700000000123'],
    ['ts', 'is a boolean', true],
    ['body', 'is an array', []],
    ['body', 'is a string', 'user=ana'],
    ['body', 'is nil', null],
    ['body', 'is an integer', 1],
    ['body', 'is empty binary', new Uint8Array(0)],
    ['body', 'is binary', new Uint8Array(Buffer.from('ana'))],
  ];
  for (const [key, what, value] of invalidFields) checked(`${key} ${what}`, { ...login, [key]: value }, 'VALIDATION');
  if (oracle.types.has('ref.servers.request')) {
    checked('the body of a type without required fields is empty binary, not a map', envelope('ref.servers.request', new Uint8Array(0)), 'VALIDATION');
  }

  // Then the type.
  checked('an unknown type', { ...login, type: 'chat.nothing' }, 'UNKNOWN_TYPE');
  checked('an unknown type that prefixes a known one', { ...login, type: 'chat.login' }, 'UNKNOWN_TYPE');
  checked('an unknown type that extends a known one', { ...login, type: `${LOGIN}.extra` }, 'UNKNOWN_TYPE');
  checked('an unknown type of one letter', { ...login, type: 'a' }, 'UNKNOWN_TYPE');
  checked('an unknown type with a body no schema accepts: the type check comes before the body', { ...login, type: 'chat.nothing', body: { '': [] } }, 'UNKNOWN_TYPE');

  // Then the body.
  checked('the body misses a required field', { ...login, body: {} }, 'VALIDATION');
  checked('the body has an extra field', { ...login, body: { user: 'ana', admin: true } }, 'VALIDATION');
  checked('the body of another type', { ...login, body: { user: 'ana', channel: 'general' } }, 'VALIDATION');

  // Before all of it, the bytes: §1–2 fail as DECODE or TOO_LARGE whatever the envelope says.
  b.invalidBytes('truncated: only the map header', loginBytes.subarray(0, 1), 'DECODE');
  b.invalidBytes('truncated: half of the envelope', loginBytes.subarray(0, loginBytes.byteLength >> 1), 'DECODE');
  b.invalidBytes('truncated: the last byte is missing', loginBytes.subarray(0, loginBytes.byteLength - 1), 'DECODE');
  b.invalidBytes('trailing bytes: a second envelope', cat(loginBytes, loginBytes), 'DECODE');
  const sorted = [...insertion].sort();
  b.invalidBytes('a duplicate v key', rawMap([...sorted.map((key) => [key, ref(login[key]!)] as const), ['v', ref(1)]]), 'DECODE');
  b.invalidBytes('a duplicate body key', rawMap([['body', ref({ user: 'ana' })], ...sorted.map((key) => [key, ref(login[key]!)] as const)]), 'DECODE');
  b.invalidBytes('a __proto__ key in the envelope', rawMap([['__proto__', ref({ v: 1 })], ...sorted.map((key) => [key, ref(login[key]!)] as const)]), 'DECODE');
  b.invalidBytes(
    'a __proto__ key in the body',
    entries(login, sorted, (key, item) => (key === 'body' ? rawMap([['__proto__', ref({ admin: true })], ['user', ref('ana')]]) : ref(item))),
    'DECODE',
  );
  b.invalidBytes('v as float64 1.0', entries(login, sorted, (key, item) => (key === 'v' ? cat('cb 3ff0000000000000') : ref(item))), 'DECODE');
  b.invalidBytes('lc as float64 42.0', entries(login, sorted, (key, item) => (key === 'lc' ? cat('cb 4045000000000000') : ref(item))), 'DECODE');
  b.invalidBytes('ts as a timestamp extension', entries(login, sorted, (key, item) => (key === 'ts' ? cat('d6 ff 6553f100') : ref(item))), 'DECODE');
  b.invalidBytes('lc as uint64 2^53', entries(login, sorted, (key, item) => (key === 'lc' ? cat('cf 0020000000000000') : ref(item))), 'DECODE');
  b.invalidBytes('from with invalid UTF-8', entries(login, sorted, (key, item) => (key === 'from' ? stringOfBytes(cat('636c69656e74 c0af')) : ref(item))), 'DECODE');
  b.invalidBytes('an integer key in the envelope', rawMap([...sorted.map((key) => [key, ref(login[key]!)] as const), [ref(1), ref(1)]]), 'DECODE');
  b.invalidBytes('v = 2 but truncated: the bytes are checked before the version', ref({ ...login, v: 2 }).subarray(0, 20), 'DECODE');
  let deep: V1Value = 'ana';
  for (let depth = 3; depth <= 33; depth++) deep = [deep];
  b.invalidBytes('the body user is nested 33 deep: the depth limit applies before validation', ref({ ...login, body: { user: deep } }), 'TOO_LARGE');
  if (oracle.types.has(CALL)) {
    // The envelope is depth 1, the body depth 2, params depth 3.
    const params = (depth: number): V1Value => {
      let value: V1Value = [];
      for (let i = 3; i < depth; i++) value = [value];
      return value;
    };
    checked('params nested to depth 32 overall: at the depth limit', envelope(CALL, { action: 'deep.call', params: params(32) }), undefined);
    b.invalidBytes('params nested to depth 33 overall: deeper than 32', ref(envelope(CALL, { action: 'deep.call', params: params(33) })), 'TOO_LARGE');
    b.invalidBytes(
      'params of 10,001 items: over the array limit',
      ref(envelope(CALL, { action: 'big.call', params: new Array<number>(10_001).fill(0) })),
      'TOO_LARGE',
    );
    b.invalidBytes(
      'a deep __proto__ key in params',
      entries(envelope(CALL, {}), sorted, (key, item) =>
        key === 'body'
          ? rawMap([
              ['action', ref('evil.call')],
              ['params', rawArray([rawMap([['a', rawMap([['__proto__', ref({ polluted: true })]])]])])],
            ])
          : ref(item),
      ),
      'DECODE',
    );
  }

  // Revision 1.1: the optional auth token, a compact JWS. Its signature part may be empty (an
  // alg none token must reach the verifier, to be refused UNAUTHENTICATED there, not VALIDATION).
  const publish = envelope('chat.publish.request', { channel: 'general', text: 'bom dia!' }, { auth: ACCESS_TOKEN });
  if (oracle.types.has('chat.publish.request')) checked('auth: a publish request carrying an access token', publish, undefined);
  const [header, payload] = ACCESS_TOKEN.split('.') as [string, string, string];
  checked('auth: a token with an empty signature part', { ...login, auth: `${header}.${payload}.` }, undefined);
  checked('auth: the shortest token, a.b.', { ...login, auth: 'a.b.' }, undefined);
  checked('auth: 4097 characters, over the 4096 maximum', { ...login, auth: `${'a'.repeat(2048)}.${'b'.repeat(2047)}.c` }, 'VALIDATION');
  const invalidAuth: Array<[string, V1Value]> = [
    ['is empty', ''],
    ['has two parts', `${header}.${payload}`],
    ['has four parts', `${ACCESS_TOKEN}.x`],
    ['has an empty header', `.${payload}.sig`],
    ['has base64 padding', `${header}=.${payload}.sig`],
    ['has a + (base64, not base64url)', `${header}.${payload}.a+b`],
    ['has a space', `${header}.${payload}. sig`],
    ['ends with a newline', `${ACCESS_TOKEN}\n`],
    ['has an empty payload', `${header}..sig`],
    ['is an integer', 1],
    ['is nil', null],
    ['is binary', new Uint8Array(Buffer.from(ACCESS_TOKEN))],
  ];
  for (const [what, value] of invalidAuth) checked(`auth ${what}`, { ...login, auth: value }, 'VALIDATION');
  return b.suite;
}
