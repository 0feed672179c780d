// The README's example, run as a program: it must still run, print what the README shows, and be
// the code the README shows.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runExample } from '@correio/testing';

const project = join(import.meta.dirname, '..');
const run = (...args: string[]) => runExample(project, 'program.ts', { args });

describe('examples/program.ts', () => {
  it('runs and prints what the README says it prints, and refuses a bad flag as it says', async () => {
    const { stdout, source, readme } = await run('--http-port', '0');
    expect(stdout).toContain('before ready: 503 ');
    expect(stdout).toContain('after ready:  200 ');
    expect(stdout).toContain('drained; exit status 0');
    expect(readme, 'the README shows the example file as it is').toContain(source);
    expect(readme, 'the README shows what the example prints').toContain(stdout);

    const failure = await run('--interval', '2x').then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code, 'a bad flag value exits 1').toBe(1);
    expect(readme, 'with the one line the README shows').toContain(`\`${failure!.stderr.trim()}\``);
  }, 60_000);
});
