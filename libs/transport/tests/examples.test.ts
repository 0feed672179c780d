// The README's example, run as a program: it must still run, print what the README shows, and be
// the code the README shows.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runExample } from '@correio/testing';

const project = join(import.meta.dirname, '..');

describe('examples/request-and-publish.ts', () => {
  it('runs and prints what the README says it prints', async () => {
    const { stdout, source, readme } = await runExample(project, 'request-and-publish.ts');
    expect(stdout).toContain('chat.login.reply ana created=true');
    expect(stdout).toContain('consecutive sequence numbers: true');
    expect(readme, 'the README shows the example file as it is').toContain(source);
    expect(readme, 'the README shows what the example prints').toContain(stdout);
  }, 60_000);
});
