// The README's example, run as a program (it starts the real reference server): it must still run,
// print what the README shows, and be the code the README shows.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const project = join(import.meta.dirname, '..');
// FORCE_COLOR=0: console.log prints plain text, as in the README, even under a colour-forcing runner.
const example = join(project, 'examples', 'election.ts');

describe('examples/election.ts', () => {
  it('runs and prints what the README says it prints', async () => {
    // On a timeout the example is killed; the reference server it started notices and stops by itself.
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--conditions=@correio/source', example], { cwd: project, env: { ...process.env, FORCE_COLOR: '0' }, timeout: 90_000, killSignal: 'SIGKILL' });
    const varying = (text: string) => text.replace(/\d+ ms after/, 'N ms after');
    expect(stdout).toMatch(/^coordinator: b, \d+ ms after c left$/m);
    const readme = readFileSync(join(project, 'README.md'), 'utf8');
    expect(readme, 'the README shows the example file as it is').toContain(readFileSync(example, 'utf8'));
    expect(varying(readme), 'the README shows what the example prints').toContain(varying(stdout));
  }, 120_000);
});
