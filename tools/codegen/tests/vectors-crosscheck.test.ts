// The generator must fail loudly when @correio/codec's encoder disagrees with the reference bytes.
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { loadSchemas } from '../src/schemas.js';
import { generateVectors } from '../src/vectors.js';

vi.mock('@correio/codec', async (importOriginal) => {
  const original = await importOriginal<typeof import('@correio/codec')>();
  /** Our encoder, except that it writes 255 as uint16: a canonical-form bug. */
  class MiscodingEncoder extends original.Encoder {
    override encode(value: unknown): Uint8Array {
      const bytes = super.encode(value);
      return bytes.length === 2 && bytes[0] === 0xcc && bytes[1] === 0xff ? Uint8Array.of(0xcd, 0x00, 0xff) : bytes;
    }
  }
  return { ...original, Encoder: MiscodingEncoder };
});

describe('generateVectors', () => {
  it('refuses to write vectors when our encoder disagrees with the reference encoder', () => {
    const set = loadSchemas(fileURLToPath(new URL('../../../', import.meta.url)));
    expect(() => generateVectors(set)).toThrow(/disagrees with the reference encoder on 1 valid vectors[\s\S]*integer 255: largest uint8[\s\S]*reference ccff\s+@correio\/codec cd00ff/);
  });
});
