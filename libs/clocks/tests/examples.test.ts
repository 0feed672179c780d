// The README's example, run as a program: it must still run, print what the README shows, and be
// the code the README shows.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runExample } from '@correio/testing';

const project = join(import.meta.dirname, '..');

describe('examples/berkeley.ts', () => {
  it('runs and prints what the README says it prints', async () => {
    const { stdout, source, readme } = await runExample(project, 'berkeley.ts');
    const spread = Number(/spread after 31 rounds: (\d+) ms/.exec(stdout)?.[1]);
    expect(spread, stdout).toBeLessThanOrEqual(30); // the bound the README states for these settings
    expect(readme, 'the README shows the example file as it is').toContain(source);
    expect(readme, 'the README shows what the example prints').toContain(stdout);
  }, 60_000);
});
