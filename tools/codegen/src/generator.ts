// The one interface every target of `npm run generate` implements (README.md, "Adding a target
// language"). main.ts runs the generators of generators.ts in their order and owns all file I/O:
// a generator only returns the files it wants, so --check, orphan detection and determinism work
// the same for every language.
import type { SchemaSet } from './schemas.js';

export interface GeneratorInput {
  /** protocol/schemas/v1, loaded and checked (schemas.ts). */
  readonly set: SchemaSet;
  /** The checkout the files are written under (or a copy of one holding protocol/schemas). */
  readonly root: string;
}

export interface GeneratorOutput {
  /** Every file the generator produces: content by path relative to `root`. */
  readonly files: ReadonlyMap<string, string>;
  /** Things a person should fix that do not stop generation (printed as warnings). */
  readonly warnings?: readonly string[];
  /** A few words for the run's closing line, such as how many cases were written. */
  readonly summary?: string;
}

/** A folder that holds nothing but one generator's files. */
export interface OwnedDir {
  /** Relative to `root`. */
  readonly dir: string;
  /** Files under `dir` with one of these endings that the generator no longer produces are orphans: deleted, or reported by --check. */
  readonly extensions: readonly string[];
}

export interface Generator {
  /** Unique and short (`typescript`, `go`, `rust`): `npm run generate -- --only <name>` selects it. */
  readonly name: string;
  /** One line: what it writes and where. */
  readonly description: string;
  /** Folders it owns entirely (see OwnedDir); omit when it writes single files into shared folders. */
  readonly owns?: readonly OwnedDir[];
  /**
   * Returns every file it generates. Must be deterministic (same schemas, same bytes) and must not
   * write anything itself. Generators run in the order of generators.ts, each after the files of
   * the previous ones are written, so a generator may import what an earlier one wrote.
   */
  generate(input: GeneratorInput): GeneratorOutput | Promise<GeneratorOutput>;
}
