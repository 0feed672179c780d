import type { Generator } from './generator.js';

/** Where the vectors live, relative to the repository root. */
export const VECTORS_DIR = 'protocol/vectors/v1';

/**
 * protocol/vectors/v1. The vector generator checks its bytes against @correio/codec, which loads
 * the TypeScript bindings: it is imported only when it runs, after the typescript generator's
 * files are written.
 */
export const vectorsGenerator: Generator = {
  name: 'vectors',
  description: `test vectors for every peer (${VECTORS_DIR}), checked against @correio/codec`,
  owns: [{ dir: VECTORS_DIR, extensions: ['.json'] }],
  async generate({ set }) {
    const { generateVectors, totalCounts } = await import('./vectors.js');
    const vectors = generateVectors(set);
    const files = new Map([...vectors.files].map(([path, content]) => [`${VECTORS_DIR}/${path}`, content]));
    const counts = totalCounts(vectors.counts);
    const summary = `${files.size} vector files: ${counts.valid} valid, ${counts.decodeOnly} decode-only, ${counts.invalid} invalid cases`;
    return { files, warnings: vectors.warnings, summary };
  },
};
