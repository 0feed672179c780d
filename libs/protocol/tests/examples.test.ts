// The README's example, run as a program: it must still run, print what the README shows, and be
// the code the README shows.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { MESSAGE_TYPES } from '@correio/protocol';

const project = join(import.meta.dirname, '..');
// FORCE_COLOR=0: console.log prints plain text, as in the README, even under a colour-forcing runner.
const example = join(project, 'examples', 'catalogue.ts');

describe('examples/catalogue.ts', () => {
  it('runs and prints what the README says it prints', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--conditions=@correio/source', example], { cwd: project, env: { ...process.env, FORCE_COLOR: '0' }, timeout: 60_000, killSignal: 'SIGKILL' });
    expect(stdout).toContain(`protocol v1: ${MESSAGE_TYPES.length} message types, 13 error codes`);
    expect(stdout).toContain('envelope valid: true | body valid: true');
    expect(stdout).toContain('must have required property');
    const readme = readFileSync(join(project, 'README.md'), 'utf8');
    expect(readme, 'the README shows the example file as it is').toContain(readFileSync(example, 'utf8'));
    expect(readme, 'the README shows what the example prints').toContain(stdout);
  }, 60_000);
});
