// protocol/vectors/v1/codec.json: the raw value model of ENCODING.md §1–2, value ⇄ bytes.
import { SuiteBuilder } from './vectors-builder.js';
import { type V1Value, type VectorSuite } from './vectors-format.js';
import { arrayHeader, binaryAs, cat, mapHeader, rawArray, rawMap, referenceEncode as ref, stringAs, stringOfBytes, wideInteger } from './vectors-reference.js';

/** The default limits of ENCODING.md §2 that every codec vector assumes. */
export const VECTOR_LIMITS = {
  maxBytes: 1_048_576,
  maxStringBytes: 65_536,
  maxBinBytes: 1_048_576,
  maxArrayLength: 10_000,
  maxMapSize: 1_000,
  maxDepth: 32,
} as const;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** Deterministic bytes 0, 1, …, 255, 0, 1, … */
function pattern(size: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => i & 0xff);
}

/** An ASCII string of exactly `size` bytes, varied so a misplaced byte shows. */
function ascii(size: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let i = 0; i < size; i++) out += alphabet[i % alphabet.length];
  return out;
}

/** `depth` arrays nested in each other around `inner`. */
function nestArrays(depth: number, inner: V1Value): V1Value {
  let value = inner;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** `depth` maps nested under key "a" around `inner`. */
function nestMaps(depth: number, inner: V1Value): V1Value {
  let value = inner;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

function keyed(count: number, width: number): Record<string, number> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${String(i).padStart(width, '0')}`, i % 128]));
}

export function codecVectors(): VectorSuite {
  const b = new SuiteBuilder('codec.json');
  scalars(b);
  integers(b);
  strings(b);
  binaries(b);
  arrays(b);
  maps(b);
  nesting(b);
  nonCanonical(b);
  malformed(b);
  forbiddenFormats(b);
  badKeys(b);
  badUtf8(b);
  outOfRangeIntegers(b);
  overLimits(b);
  return b.suite;
}

function scalars(b: SuiteBuilder): void {
  b.valid('nil', null);
  b.valid('false', false);
  b.valid('true', true);
}

function integers(b: SuiteBuilder): void {
  const cases: Array<[string, number]> = [
    ['0: positive fixint', 0],
    ['1: positive fixint', 1],
    ['127: largest positive fixint', 127],
    ['128: smallest uint8', 128],
    ['255: largest uint8', 255],
    ['256: smallest uint16', 256],
    ['65535: largest uint16', 65_535],
    ['65536: smallest uint32', 65_536],
    ['2^32-1: largest uint32', 2 ** 32 - 1],
    ['2^32: smallest uint64', 2 ** 32],
    ['2^32+1: uint64 with both halves set', 2 ** 32 + 1],
    ['2^53-1: largest v1 integer, uint64', MAX_SAFE],
    ['-1: negative fixint', -1],
    ['-32: smallest negative fixint', -32],
    ['-33: int8', -33],
    ['-128: smallest int8', -128],
    ['-129: int16', -129],
    ['-32768: smallest int16', -32_768],
    ['-32769: int32', -32_769],
    ['-2^31: smallest int32', -(2 ** 31)],
    ['-2^31-1: int64', -(2 ** 31) - 1],
    ['-2^32: int64 with an empty low half', -(2 ** 32)],
    ['-(2^53-1): smallest v1 integer, int64', -MAX_SAFE],
  ];
  for (const [description, value] of cases) b.valid(`integer ${description}`, value);
}

function strings(b: SuiteBuilder): void {
  const sized: Array<[number, string]> = [
    [0, 'empty fixstr'],
    [1, 'fixstr'],
    [31, 'largest fixstr'],
    [32, 'smallest str8'],
    [255, 'largest str8'],
    [256, 'smallest str16'],
    [65_535, 'largest str16'],
    [65_536, 'smallest str32, at the 65,536-byte string limit'],
  ];
  for (const [size, format] of sized) b.valid(`string of ${size} byte${size === 1 ? '' : 's'}: ${format}`, ascii(size));

  const unicode: Array<[string, string]> = [
    ['two-byte UTF-8 (é)', 'é'],
    ['three-byte UTF-8 (€)', '€'],
    ['four-byte UTF-8, astral (😀 U+1F600)', '😀'],
    ['mixed widths', 'aé€😀'],
    ['combining mark: e + U+0301, not normalised', 'e\u0301'],
    ['precomposed é U+00E9, distinct from e + U+0301', '\u00e9'],
    ['right-to-left text with RLM marks', '\u200fשלום עולם\u200f'],
    ['Arabic with an LRM mark', 'مرحبا\u200e123'],
    ['BOM U+FEFF at the start is kept, not stripped', '\ufeffabc'],
    ['BOM alone', '\ufeff'],
    ['NUL alone', '\u0000'],
    ['NUL inside', 'a\u0000b'],
    ['control characters', '\t\n\r\u001b\u007f'],
    ['U+0080, smallest two-byte code point', '\u0080'],
    ['U+07FF, largest two-byte code point', '\u07ff'],
    ['U+0800, smallest three-byte code point', '\u0800'],
    ['U+D7FF, just below the surrogates', '\ud7ff'],
    ['U+E000, just above the surrogates', '\ue000'],
    ['U+FFFE and U+FFFF, noncharacters but valid UTF-8', '\ufffe\uffff'],
    ['U+10000, smallest four-byte code point', '\u{10000}'],
    ['U+10FFFF, largest code point', '\u{10ffff}'],
    ['ZWJ emoji sequence', '👩‍👩‍👧'],
    ['regional indicators (flag)', '🇵🇹'],
    ['CJK', '你好，世界'],
    ['line and paragraph separators', '\u2028\u2029'],
    ['a long non-ASCII string (past short-string fast paths)', 'ação '.repeat(10)],
  ];
  for (const [description, value] of unicode) b.valid(`string: ${description}`, value);
  b.valid('string of 16 two-byte characters is 32 bytes: str8, not fixstr', 'é'.repeat(16));
  b.valid('string of 10 three-byte characters and one ASCII is 31 bytes: fixstr', `${'€'.repeat(10)}a`);
  b.valid('string of 64 astral characters is 256 bytes: str16', '😀'.repeat(64));
  b.valid('string that looks like hex', 'c0ffee');
}

function binaries(b: SuiteBuilder): void {
  b.valid('binary of 0 bytes: bin8', new Uint8Array(0));
  b.valid('binary of 1 byte', Uint8Array.of(0));
  b.valid('binary of all 256 byte values: bin16', pattern(256));
  b.valid('binary of 255 bytes: largest bin8', pattern(255));
  b.valid('binary of UTF-8 text stays binary', new Uint8Array(Buffer.from('abc')));
  b.valid('binary of invalid UTF-8 is fine: bytes are opaque', Uint8Array.of(0xc0, 0xaf, 0xff, 0xed, 0xa0, 0x80));
}

function arrays(b: SuiteBuilder): void {
  b.valid('empty array', []);
  b.valid('array of one nil', [null]);
  b.valid('array of every scalar kind', [null, false, true, 0, -1, 'a', Uint8Array.of(1)]);
  b.valid('array of 15 items: largest fixarray', Array.from({ length: 15 }, (_, i) => i));
  b.valid('array of 16 items: smallest array16', Array.from({ length: 16 }, (_, i) => i));
  b.valid('array of 10,000 items: at the array limit', new Array<number>(10_000).fill(0));
  b.valid('array of empty containers', [[], {}, '', new Uint8Array(0)]);
}

function maps(b: SuiteBuilder): void {
  b.valid('empty map', {});
  b.valid('map of one entry', { a: 1 });
  b.valid('map of 15 entries: largest fixmap', keyed(15, 2));
  b.valid('map of 16 entries: smallest map16', keyed(16, 2));
  b.valid('map of 1,000 entries: at the map limit', keyed(1_000, 3));
  b.valid('map keys are sorted: written a, b, c', { c: 3, a: 1, b: 2 });
  b.valid('map keys sort by prefix: "", a, aa, ab, b', { b: 5, ab: 4, aa: 3, a: 2, '': 1 });
  b.valid('map keys sort by bytes: upper case before "_" before lower case', { a: 1, _: 2, Z: 3, A: 4 });
  b.valid('map numeric-looking keys sort as strings: "1", "10", "9"', { '10': 1, '9': 2, '1': 3 });
  b.valid('map numeric-looking keys: "0", "00", "1", "a"', { a: 4, '1': 3, '00': 2, '0': 1 });
  b.valid('map key é (U+00E9) sorts after z', { z: 1, é: 2 });
  b.valid('map key U+FFFF sorts before U+10000 (UTF-16 order differs)', { '\u{10000}': 2, '\uffff': 1 });
  b.valid('map key U+E000 sorts before U+1F600 (UTF-16 order differs)', { '😀': 2, '\ue000': 1 });
  b.valid('map key U+FF61 sorts before U+10FFFF', { '\u{10ffff}': 2, '\uff61': 1 });
  b.valid('map keys differing only in a combining mark', { 'e\u0301': 2, e: 1, é: 3 });
  b.valid('map keys constructor, prototype, toString, hasOwnProperty are ordinary keys', {
    constructor: 1,
    prototype: 2,
    toString: 3,
    hasOwnProperty: 4,
  });
  b.valid('map key "$bin" next to another key is an ordinary map', { $bin: '00', x: 1 });
  b.valid('map of every value kind', { n: null, f: false, t: true, i: -5, s: 'x', b: Uint8Array.of(255), a: [1], m: { k: 'v' } });
  b.valid('map with an empty key and an empty value', { '': '' });
  b.valid('map with a 255-byte key', { [ascii(255)]: 1 });
}

function nesting(b: SuiteBuilder): void {
  b.valid('32 nested arrays: at the depth limit', nestArrays(31, []));
  b.valid('32 nested maps: at the depth limit', nestMaps(31, {}));
  b.valid('32 levels of alternating maps and arrays', nestAlternating(32));
  b.valid('31 nested arrays around a scalar', nestArrays(31, 7));
  b.valid('nested structures', {
    users: [
      { name: 'ana', tags: ['a', 'b'], meta: { since: 1_700_000_000_000, score: -3 } },
      { name: 'rui', tags: [], meta: {} },
    ],
    total: 2,
    cursor: null,
  });
}

function nestAlternating(depth: number): V1Value {
  let value: V1Value = [];
  for (let i = 1; i < depth; i++) value = i % 2 === 0 ? [value] : { k: value };
  return value;
}

function nonCanonical(b: SuiteBuilder): void {
  b.decodeOnly('5 as uint8', cat('cc 05'), 5);
  b.decodeOnly('5 as uint16', cat('cd 0005'), 5);
  b.decodeOnly('5 as uint32', cat('ce 00000005'), 5);
  b.decodeOnly('5 as uint64', wideInteger(5), 5);
  b.decodeOnly('5 as int8 (a signed format for a non-negative value)', cat('d0 05'), 5);
  b.decodeOnly('5 as int16', cat('d1 0005'), 5);
  b.decodeOnly('5 as int32', cat('d2 00000005'), 5);
  b.decodeOnly('5 as int64', cat('d3 0000000000000005'), 5);
  b.decodeOnly('0 as uint64', wideInteger(0), 0);
  b.decodeOnly('-1 as int8', cat('d0 ff'), -1);
  b.decodeOnly('-1 as int16', cat('d1 ffff'), -1);
  b.decodeOnly('-1 as int64', wideInteger(-1), -1);
  b.decodeOnly('-33 as int64', wideInteger(-33), -33);
  b.decodeOnly('200 as int16', cat('d1 00c8'), 200);
  b.decodeOnly('2^32-1 as uint64', wideInteger(2 ** 32 - 1), 2 ** 32 - 1);
  b.decodeOnly('2^53-1 as int64', cat('d3 001fffffffffffff'), MAX_SAFE);
  b.decodeOnly('-2^31 as int64', wideInteger(-(2 ** 31)), -(2 ** 31));
  b.decodeOnly('"a" as str8', stringAs(0xd9, 'a'), 'a');
  b.decodeOnly('"a" as str16', stringAs(0xda, 'a'), 'a');
  b.decodeOnly('"a" as str32', stringAs(0xdb, 'a'), 'a');
  b.decodeOnly('empty string as str8', stringAs(0xd9, ''), '');
  b.decodeOnly('empty string as str32', stringAs(0xdb, ''), '');
  b.decodeOnly('1-byte binary as bin16', binaryAs(0xc5, Uint8Array.of(7)), Uint8Array.of(7));
  b.decodeOnly('1-byte binary as bin32', binaryAs(0xc6, Uint8Array.of(7)), Uint8Array.of(7));
  b.decodeOnly('[1] as array16', cat('dc 0001 01'), [1]);
  b.decodeOnly('[1] as array32', cat('dd 00000001 01'), [1]);
  b.decodeOnly('empty array as array32', cat('dd 00000000'), []);
  b.decodeOnly('{"a":1} as map16', cat('de 0001 a161 01'), { a: 1 });
  b.decodeOnly('{"a":1} as map32', cat('df 00000001 a161 01'), { a: 1 });
  b.decodeOnly('empty map as map16', cat('de 0000'), {});
  b.decodeOnly('map with unsorted keys b, a', rawMap([['b', ref(1)], ['a', ref(2)]]), { a: 2, b: 1 });
  b.decodeOnly('map with keys in UTF-16 order: U+10000 before U+FFFF', rawMap([['\u{10000}', ref(2)], ['\uffff', ref(1)]]), {
    '\uffff': 1,
    '\u{10000}': 2,
  });
  b.decodeOnly('map with numeric-looking keys in numeric order 1, 9, 10', rawMap([['1', ref(3)], ['9', ref(2)], ['10', ref(1)]]), {
    '1': 3,
    '9': 2,
    '10': 1,
  });
  b.decodeOnly('map whose key is a str8', rawMap([[stringAs(0xd9, 'a'), ref(1)]]), { a: 1 });
  b.decodeOnly('map whose key is a str16', rawMap([[stringAs(0xda, 'a'), ref(1)]]), { a: 1 });
  b.decodeOnly('nested map with reversed keys and 64-bit integers', ref({ x: { b: 1, a: [2, -3] }, c: 4 }, { reverseKeys: true, wideIntegers: true }), {
    x: { b: 1, a: [2, -3] },
    c: 4,
  });
  b.decodeOnly(
    'map with keys constructor and prototype, unsorted',
    rawMap([['prototype', ref({ polluted: true })], ['constructor', ref({ prototype: { polluted: true } })]]),
    { constructor: { prototype: { polluted: true } }, prototype: { polluted: true } },
  );
}

function malformed(b: SuiteBuilder): void {
  b.invalidBytes('no bytes at all', new Uint8Array(0), 'DECODE');
  const truncated: Array<[string, string]> = [
    ['uint8 without its byte', 'cc'],
    ['uint16 with 1 of 2 bytes', 'cd 00'],
    ['uint32 with 3 of 4 bytes', 'ce 000000'],
    ['uint64 with 7 of 8 bytes', 'cf 00000000000000'],
    ['int8 without its byte', 'd0'],
    ['int16 with 1 of 2 bytes', 'd1 ff'],
    ['int32 with 3 of 4 bytes', 'd2 ffffff'],
    ['int64 with 7 of 8 bytes', 'd3 ffffffffffffff'],
    ['fixstr of 1 byte with none', 'a1'],
    ['fixstr of 5 bytes with 4', 'a5 61626364'],
    ['str8 without its length', 'd9'],
    ['str8 of 5 bytes with 1', 'd9 05 61'],
    ['str16 with half its length', 'da 00'],
    ['str32 with 3 of 4 length bytes', 'db 000000'],
    ['bin8 without its length', 'c4'],
    ['bin8 of 2 bytes with 1', 'c4 02 00'],
    ['bin16 of 2 bytes with none', 'c5 0002'],
    ['bin32 of 1 byte with none', 'c6 00000001'],
    ['fixarray of 1 item with none', '91'],
    ['fixarray of 3 items with 2', '93 0102'],
    ['array16 without its length', 'dc'],
    ['array16 of 2 items with 1', 'dc 0002 01'],
    ['array32 of 1 item with none', 'dd 00000001'],
    ['fixmap of 1 entry with none', '81'],
    ['fixmap of 1 entry with its key only', '81 a161'],
    ['fixmap of 2 entries with 1', '82 a161 01'],
    ['map16 of 1 entry with none', 'de 0001'],
    ['map32 without its length', 'df'],
    ['nested array cut inside its last item', '92 01 92 02'],
    ['string cut inside a multi-byte character', 'a2 c3'],
  ];
  for (const [description, hex] of truncated) b.invalidBytes(`truncated: ${description}`, cat(hex), 'DECODE');
  const trailing: Array<[string, string]> = [
    ['two nils', 'c0 c0'],
    ['an integer then another', '01 02'],
    ['an empty array then a byte', '90 00'],
    ['a map then a nil', '81 a161 01 c0'],
    ['a string then a stray byte', 'a161 ff'],
  ];
  for (const [description, hex] of trailing) b.invalidBytes(`trailing bytes: ${description}`, cat(hex), 'DECODE');
  b.invalidBytes('0xc1, the never-used byte', cat('c1'), 'DECODE');
  b.invalidBytes('0xc1 inside an array', cat('92 01 c1'), 'DECODE');
  b.invalidBytes('0xc1 as a map value', cat('81 a161 c1'), 'DECODE');
  b.invalidBytes('str32 with a 0xffffffff length prefix', cat('db ffffffff 616263'), 'DECODE');
  b.invalidBytes('bin32 with a 0xffffffff length prefix', cat('c6 ffffffff 000102'), 'DECODE');
  b.invalidBytes('array32 with a 0xffffffff length prefix', cat('dd ffffffff 010203'), 'DECODE');
  b.invalidBytes('map32 with a 0xffffffff length prefix', cat('df ffffffff a16101'), 'DECODE');
  b.invalidBytes('str16 with a 0xffff length prefix', cat('da ffff 61'), 'DECODE');
  b.invalidBytes('array16 with a 0xffff length prefix', cat('dc ffff 01'), 'DECODE');
  b.invalidBytes('map16 with a 0xffff length prefix', cat('de ffff a161 01'), 'DECODE');
  b.invalidBytes('0xffffffff length prefix nested in an array', cat('91 db ffffffff'), 'DECODE');
}

function forbiddenFormats(b: SuiteBuilder): void {
  const floats: Array<[string, string]> = [
    ['float32 0.0', 'ca 00000000'],
    ['float32 1.0', 'ca 3f800000'],
    ['float32 NaN', 'ca 7fc00000'],
    ['float32 +Infinity', 'ca 7f800000'],
    ['float32 -Infinity', 'ca ff800000'],
    ['float64 0.0', 'cb 0000000000000000'],
    ['float64 -0.0', 'cb 8000000000000000'],
    ['float64 1.0, an integral value', 'cb 3ff0000000000000'],
    ['float64 0.5', 'cb 3fe0000000000000'],
    ['float64 NaN', 'cb 7ff8000000000000'],
    ['float64 +Infinity', 'cb 7ff0000000000000'],
    ['float64 -Infinity', 'cb fff0000000000000'],
    ['float64 2^53, beyond the integer range', 'cb 4340000000000000'],
  ];
  for (const [description, hex] of floats) b.invalidBytes(`${description}: no floats in v1`, cat(hex), 'DECODE');
  b.invalidBytes('float64 inside an array', cat('92 01 cb 3ff0000000000000'), 'DECODE');
  b.invalidBytes('float32 as a map value', cat('81 a161 ca 3f800000'), 'DECODE');
  const extensions: Array<[string, string]> = [
    ['fixext1', 'd4 01 00'],
    ['fixext2', 'd5 01 0000'],
    ['fixext4', 'd6 01 00000000'],
    ['fixext8', 'd7 01 0000000000000000'],
    ['fixext16', 'd8 01 00000000000000000000000000000000'],
    ['ext8', 'c7 01 01 00'],
    ['ext16', 'c8 0001 01 00'],
    ['ext32', 'c9 00000001 01 00'],
    ['ext8 of 0 bytes', 'c7 00 01'],
    ['timestamp 32 (fixext4, type -1)', 'd6 ff 00000000'],
    ['timestamp 64 (fixext8, type -1)', 'd7 ff 0000000000000000'],
    ['timestamp 96 (ext8, type -1)', 'c7 0c ff 000000000000000000000000'],
  ];
  for (const [description, hex] of extensions) b.invalidBytes(`extension ${description}: not part of v1`, cat(hex), 'DECODE');
  b.invalidBytes('extension nested in a map', cat('81 a174 d6 ff 00000000'), 'DECODE');
}

function badKeys(b: SuiteBuilder): void {
  b.invalidBytes('duplicate map key with equal values', rawMap([['a', ref(1)], ['a', ref(1)]]), 'DECODE');
  b.invalidBytes('duplicate map key with different values', rawMap([['a', ref(1)], ['a', ref(2)]]), 'DECODE');
  b.invalidBytes('duplicate map key spelled as fixstr and str8', rawMap([['a', ref(1)], [stringAs(0xd9, 'a'), ref(2)]]), 'DECODE');
  b.invalidBytes('duplicate map key not adjacent', rawMap([['a', ref(1)], ['b', ref(2)], ['a', ref(3)]]), 'DECODE');
  b.invalidBytes('duplicate map key in a nested map', rawArray([rawMap([['x', ref(1)], ['x', ref(1)]])]), 'DECODE');
  b.invalidBytes('duplicate empty key', rawMap([['', ref(1)], ['', ref(2)]]), 'DECODE');
  const keys: Array<[string, Uint8Array]> = [
    ['integer', ref(1)],
    ['negative integer', ref(-1)],
    ['nil', ref(null)],
    ['boolean', ref(true)],
    ['binary', ref(Uint8Array.of(0x61))],
    ['array', ref(['a'])],
    ['map', ref({ a: 1 })],
    ['float64', cat('cb 3ff0000000000000')],
  ];
  for (const [kind, key] of keys) b.invalidBytes(`map key that is a ${kind}, not a string`, rawMap([[key, ref(1)]]), 'DECODE');
  b.invalidBytes('map key __proto__ at depth 1', rawMap([['__proto__', ref({ polluted: true })]]), 'DECODE');
  b.invalidBytes('map key __proto__ with a scalar value', rawMap([['__proto__', ref(1)]]), 'DECODE');
  b.invalidBytes('map key __proto__ after ordinary keys', rawMap([['a', ref(1)], ['__proto__', ref({})], ['b', ref(2)]]), 'DECODE');
  b.invalidBytes('map key __proto__ spelled as str8', rawMap([[stringAs(0xd9, '__proto__'), ref({})]]), 'DECODE');
  b.invalidBytes('map key __proto__ nested in a map', rawMap([['a', rawMap([['__proto__', ref({ polluted: true })]])]]), 'DECODE');
  b.invalidBytes(
    'map key __proto__ deep inside arrays and maps',
    rawMap([['a', rawArray([ref(1), rawMap([['b', rawArray([rawMap([['__proto__', ref({ polluted: true })]])])]])])]]),
    'DECODE',
  );
}

function badUtf8(b: SuiteBuilder): void {
  const sequences: Array<[string, string]> = [
    ['overlong "/" (c0 af)', 'c0af'],
    ['overlong NUL (c0 80)', 'c080'],
    ['overlong three-byte "/" (e0 80 af)', 'e080af'],
    ['overlong four-byte "/" (f0 80 80 af)', 'f08080af'],
    ['overlong U+07FF in three bytes (e0 9f bf)', 'e09fbf'],
    ['UTF-8-encoded high surrogate U+D800 (ed a0 80)', 'eda080'],
    ['UTF-8-encoded low surrogate U+DFFF (ed bf bf)', 'edbfbf'],
    ['UTF-8-encoded surrogate pair, CESU-8 style (ed a0 bd ed b8 80)', 'eda0bdedb880'],
    ['truncated two-byte sequence (c3)', 'c3'],
    ['truncated three-byte sequence (e2 82)', 'e282'],
    ['truncated four-byte sequence (f0 9f 98)', 'f09f98'],
    ['truncated sequence followed by ASCII (e2 82 41)', 'e28241'],
    ['byte 0xff', 'ff'],
    ['byte 0xfe', 'fe'],
    ['lone continuation byte (80)', '80'],
    ['code point above U+10FFFF (f4 90 80 80)', 'f4908080'],
    ['lead byte 0xf5', 'f5808080'],
    ['lead byte 0xf8 (five-byte form)', 'f888808080'],
  ];
  for (const [description, hex] of sequences) {
    b.invalidBytes(`invalid UTF-8 in a short string: ${description}`, stringOfBytes(cat(hex)), 'DECODE');
  }
  const padding = new Uint8Array(Buffer.from('a long string of ASCII text '));
  b.invalidBytes('invalid UTF-8 at the end of a long string (ed a0 80)', stringOfBytes(cat(padding, 'eda080')), 'DECODE');
  b.invalidBytes('invalid UTF-8 at the start of a long string (ff)', stringOfBytes(cat('ff', padding)), 'DECODE');
  b.invalidBytes('invalid UTF-8 in a str16', stringAs(0xda, cat('c0af')), 'DECODE');
  b.invalidBytes('invalid UTF-8 in a map key', rawMap([[stringOfBytes(cat('c0af')), ref(1)]]), 'DECODE');
  b.invalidBytes('invalid UTF-8 in a string nested in an array', rawArray([ref('ok'), stringOfBytes(cat('eda080'))]), 'DECODE');
}

function outOfRangeIntegers(b: SuiteBuilder): void {
  const cases: Array<[string, string]> = [
    ['uint64 2^53', 'cf 0020000000000000'],
    ['uint64 2^53+1', 'cf 0020000000000001'],
    ['uint64 2^63', 'cf 8000000000000000'],
    ['uint64 2^64-1', 'cf ffffffffffffffff'],
    ['int64 2^53 (a positive value in a signed format)', 'd3 0020000000000000'],
    ['int64 2^63-1', 'd3 7fffffffffffffff'],
    ['int64 -2^53', 'd3 ffe0000000000000'],
    ['int64 -2^53-1', 'd3 ffdfffffffffffff'],
    ['int64 -2^63', 'd3 8000000000000000'],
  ];
  for (const [description, hex] of cases) b.invalidBytes(`integer ${description}: beyond ±(2^53-1)`, cat(hex), 'DECODE');
  b.invalidBytes('integer uint64 2^53 as a map value', cat('81 a161', 'cf 0020000000000000'), 'DECODE');
}

function overLimits(b: SuiteBuilder): void {
  b.invalidBytes('33 nested arrays: deeper than 32', ref(nestArrays(32, [])), 'TOO_LARGE');
  b.invalidBytes('33 nested maps: deeper than 32', ref(nestMaps(32, {})), 'TOO_LARGE');
  b.invalidBytes('33 levels of alternating maps and arrays', ref(nestAlternating(33)), 'TOO_LARGE');
  b.invalidBytes('string of 65,537 bytes: over the string limit', ref(ascii(65_537)), 'TOO_LARGE');
  b.invalidBytes('array of 10,001 items: over the array limit', ref(new Array<number>(10_001).fill(0)), 'TOO_LARGE');
  b.invalidBytes('array32 of 10,001 items: over the array limit', cat('dd 00002711', new Uint8Array(10_001)), 'TOO_LARGE');
  b.invalidBytes('map of 1,001 entries: over the map limit', ref(keyed(1_001, 4)), 'TOO_LARGE');
  b.invalidBytes('map32 of 1,001 entries: over the map limit', cat('df 000003e9', ref(keyed(1_001, 4)).subarray(mapHeader(1_001).byteLength)), 'TOO_LARGE');
  b.invalidBytes('array of 10,001 items nested in a map', rawMap([['a', cat(arrayHeader(10_001), new Uint8Array(10_001))]]), 'TOO_LARGE');
}
