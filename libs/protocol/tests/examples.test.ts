// The README's example, run as a program: it must still run, print what the README shows, and be
// the code the README shows.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runExample } from '@correio/testing';
import { ERROR_CODES, MESSAGE_TYPES } from '@correio/protocol';

const project = join(import.meta.dirname, '..');

describe('examples/catalogue.ts', () => {
  it('runs and prints what the README says it prints', async () => {
    const { stdout, source, readme } = await runExample(project, 'catalogue.ts');
    expect(stdout).toContain(`protocol v1: ${MESSAGE_TYPES.length} message types, ${ERROR_CODES.length} error codes`);
    expect(stdout).toContain('envelope valid: true | body valid: true');
    expect(stdout).toContain('must have required property');
    expect(readme, 'the README shows the example file as it is').toContain(source);
    expect(readme, 'the README shows what the example prints').toContain(stdout);
  }, 60_000);
});
