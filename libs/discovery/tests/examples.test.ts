// The README's example, run as a program (it starts the real reference server): it must still run,
// print what the README shows, and be the code the README shows.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runExample } from '@correio/testing';

const project = join(import.meta.dirname, '..');

describe('examples/election.ts', () => {
  it('runs and prints what the README says it prints', async () => {
    // On a timeout the example is killed; the reference server it started notices and stops by itself.
    const { stdout, source, readme } = await runExample(project, 'election.ts', { timeoutMs: 90_000 });
    const varying = (text: string) => text.replace(/\d+ ms after/, 'N ms after');
    expect(stdout).toMatch(/^coordinator: b, \d+ ms after c left$/m);
    expect(readme, 'the README shows the example file as it is').toContain(source);
    expect(varying(readme), 'the README shows what the example prints').toContain(varying(stdout));
  }, 120_000);
});
