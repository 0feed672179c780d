// The README's example, run as a program: it must still run, print what the README shows, and be
// the code the README shows.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runExample } from '@correio/testing';

const project = join(import.meta.dirname, '..');

describe('examples/three-replicas.ts', () => {
  it('runs and prints what the README says it prints', async () => {
    const { stdout, source, readme } = await runExample(project, 'three-replicas.ts');
    expect(stdout).toContain('after a gap on c: a:3 b:3 c:3');
    expect(stdout).toContain('d after catch-up: a:4 b:4 c:4 d:4');
    const hashes = /digests: (.*)/.exec(stdout)![1]!.split(' ').map((entry) => entry.split('=')[1]);
    expect(new Set(hashes).size, 'every replica holds the same operations').toBe(1);
    expect(readme, 'the README shows the example file as it is').toContain(source);
    expect(readme, 'the README shows what the example prints').toContain(stdout);
  }, 60_000);
});
