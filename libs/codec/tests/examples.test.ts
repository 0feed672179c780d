// The README's example, run as a program: it must still run, print what the README shows, and be
// the code the README shows.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runExample } from '@correio/testing';

const project = join(import.meta.dirname, '..');

describe('examples/round-trip.ts', () => {
  it('runs and prints what the README says it prints', async () => {
    const { stdout, source, readme } = await runExample(project, 'round-trip.ts');
    expect(stdout).toMatch(/^bytes {3}87a4626f6479/);
    expect(stdout).toContain('same bytes for {b, a} and {a, b}: true');
    for (const code of ['DECODE', 'TOO_LARGE', 'UNKNOWN_TYPE', 'VALIDATION', 'UNSUPPORTED_VERSION']) expect(stdout).toContain(` ${code}: `);
    expect(readme, 'the README shows the example file as it is').toContain(source);
    expect(readme, 'the README shows what the example prints').toContain(stdout);
  }, 60_000);
});
