// The README's example, run as a program: it must still run, print what the README shows, and be
// the code the README shows.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const project = join(import.meta.dirname, '..');
// FORCE_COLOR=0: console.log prints plain text, as in the README, even under a colour-forcing runner.
const example = join(project, 'examples', 'program.ts');
const run = (...args: string[]) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', '--conditions=@correio/source', example, ...args], { cwd: project, env: { ...process.env, FORCE_COLOR: '0' }, timeout: 60_000, killSignal: 'SIGKILL' });

describe('examples/program.ts', () => {
  it('runs and prints what the README says it prints, and refuses a bad flag as it says', async () => {
    const { stdout } = await run('--http-port', '0');
    expect(stdout).toContain('before ready: 503 ');
    expect(stdout).toContain('after ready:  200 ');
    expect(stdout).toContain('drained; exit status 0');
    const readme = readFileSync(join(project, 'README.md'), 'utf8');
    expect(readme, 'the README shows the example file as it is').toContain(readFileSync(example, 'utf8'));
    expect(readme, 'the README shows what the example prints').toContain(stdout);

    const failure = await run('--interval', '2x').then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code, 'a bad flag value exits 1').toBe(1);
    expect(readme, 'with the one line the README shows').toContain(`\`${failure!.stderr.trim()}\``);
  }, 60_000);
});
