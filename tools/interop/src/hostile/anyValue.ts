import fc from 'fast-check';
import { boundaryInteger } from './boundaries.js';

/** Keys no decoder accepts (ENCODING.md §1): never generated. */
const FORBIDDEN_KEY = '__proto__';

/**
 * Any value of the v1 data model (ENCODING.md §1: nil, booleans, safe integers, strings,
 * binaries, arrays, maps with string keys) that nests at most `levels` arrays/maps deep: mostly
 * small and shallow, and as often a chain exactly `levels` deep, the deepest a decoder accepts.
 */
export function anyValue(levels: number): fc.Arbitrary<unknown> {
  const leaf = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    boundaryInteger(),
    fc.string({ unit: 'binary', maxLength: 64 }),
    fc.uint8Array({ maxLength: 64 }),
  );
  if (levels <= 0) return leaf;
  const { value } = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', maxDepth: levels },
      leaf,
      fc.array(tie('value'), { maxLength: 8 }),
      fc.dictionary(fc.string({ maxLength: 16 }).filter((key) => key !== FORBIDDEN_KEY), tie('value'), { maxKeys: 8, noNullPrototype: true }),
    ),
  }));
  return fc.oneof(value, fc.tuple(leaf, fc.boolean()).map(([inner, maps]) => nested(levels, inner, maps)));
}

/** `inner` wrapped in `levels` arrays (or maps keyed "k"), alternating when `maps`. */
function nested(levels: number, inner: unknown, maps: boolean): unknown {
  let value = inner;
  for (let level = 0; level < levels; level++) value = maps && level % 2 === 1 ? { k: value } : [value];
  return value;
}
