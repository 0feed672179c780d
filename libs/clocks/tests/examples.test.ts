// The README's example, run as a program: it must still run, print what the README shows, and be
// the code the README shows.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const project = join(import.meta.dirname, '..');
// FORCE_COLOR=0: console.log prints plain text, as in the README, even under a colour-forcing runner.
const example = join(project, 'examples', 'berkeley.ts');

describe('examples/berkeley.ts', () => {
  it('runs and prints what the README says it prints', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--conditions=@correio/source', example], { cwd: project, env: { ...process.env, FORCE_COLOR: '0' }, timeout: 60_000, killSignal: 'SIGKILL' });
    const spread = Number(/spread after 31 rounds: (\d+) ms/.exec(stdout)?.[1]);
    expect(spread, stdout).toBeLessThanOrEqual(30); // the bound the README states for these settings
    const readme = readFileSync(join(project, 'README.md'), 'utf8');
    expect(readme, 'the README shows the example file as it is').toContain(readFileSync(example, 'utf8'));
    expect(readme, 'the README shows what the example prints').toContain(stdout);
  }, 60_000);
});
