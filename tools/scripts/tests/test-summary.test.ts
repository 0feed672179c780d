// The CI summary tells the truth: a real worker abort, a missing report and a run that exited
// non-zero with a clean report each count as failed, by name, and the exit status follows the line.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDir, type ScratchDir } from '@correio/testing';
import { failedTestProjects } from '../test-all.mjs';
import { workspaceRoot } from '../test-summary.mjs';

const fixture = join(import.meta.dirname, 'fixtures', 'crash');
const summaryScript = join(import.meta.dirname, '..', 'test-summary.mjs');
const closingLine = /^(\w+: )?\d+ passed, \d+ failed, \d+ skipped$/;

/** Runs a program to its end (no core file for an abort) and returns its status and output. */
function run(program: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', 'ulimit -c 0; exec "$0" "$@"', program, ...args], { cwd: workspaceRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ status: code ?? 1, output }));
  });
}

/** Runs the fixture project (optionally only files matching `filter`), its report written to `report`. */
const runFixture = (report: string, filter: string[] = []) =>
  run(join(workspaceRoot, 'node_modules', '.bin', 'vitest'), ['run', '--config', join(fixture, 'vitest.fixture.config.mjs'), ...filter], { FIXTURE_REPORT: report, CI: 'true' });

const summary = (reports: string, ...args: string[]) => run(process.execPath, [summaryScript, reports, ...args]);

describe('the test summary', () => {
  let scratch: ScratchDir;
  let crashRun: { status: number; output: string };
  let cleanRun: { status: number; output: string };

  beforeAll(async () => {
    scratch = scratchDir('correio-test-summary-');
    [crashRun, cleanRun] = await Promise.all([runFixture(join(scratch.dir, 'crash', 'fixture.json')), runFixture(join(scratch.dir, 'clean', 'fixture.json'), ['passes'])]);
  });
  afterAll(() => scratch?.remove());

  it('counts a test file whose worker aborted as failed, names it, lists skips by name, and exits 1', async () => {
    expect(crashRun.status).not.toBe(0);
    expect(crashRun.output).toMatch(/Worker exited unexpectedly/);
    const { status, output } = await summary(join(scratch.dir, 'crash'));
    const lines = output.trimEnd().split('\n');
    expect(lines.at(-1)).toBe('tests: 1 passed, 1 failed, 1 skipped');
    expect(lines.at(-1)).toMatch(closingLine);
    expect(lines).toContain('skipped: fixture: tools/scripts/tests/fixtures/crash/passes.fixture.ts > is skipped, and listed by name');
    expect(lines.find((line) => line.startsWith('FAILED: '))).toMatch(/^FAILED: fixture: tools\/scripts\/tests\/fixtures\/crash\/aborts\.fixture\.ts: 1 of its 1 tests did not finish/);
    expect(status).toBe(1);
  });

  it('passes a clean run, and fails it when its test run exited non-zero anyway', async () => {
    expect(cleanRun.status).toBe(0);
    const clean = await summary(join(scratch.dir, 'clean'));
    expect(clean.output.trimEnd().split('\n').at(-1)).toBe('tests: 1 passed, 0 failed, 1 skipped');
    expect(clean.status).toBe(0);
    const exitedNonZero = await summary(join(scratch.dir, 'clean'), '--failed', 'fixture');
    expect(exitedNonZero.output).toMatch(/^FAILED: fixture: the test run exited with status 1 though no test in its report failed/m);
    expect(exitedNonZero.output.trimEnd().split('\n').at(-1)).toBe('tests: 1 passed, 1 failed, 1 skipped');
    expect(exitedNonZero.status).toBe(1);
  });

  it('counts a project without a report, and a run in which no test ran, as failed', async () => {
    const missing = await summary(join(scratch.dir, 'clean'), '--expect', 'vanished');
    expect(missing.output).toMatch(/^FAILED: vanished: no report/m);
    expect(missing.output.trimEnd().split('\n').at(-1)).toBe('tests: 1 passed, 1 failed, 1 skipped');
    expect(missing.status).toBe(1);
    const nothing = await summary(join(scratch.dir, 'nowhere'));
    expect(nothing.output.trimEnd().split('\n').at(-1)).toBe('tests: 0 passed, 1 failed, 0 skipped');
    expect(nothing.status).toBe(1);
  });

  it('reads the failed test tasks from nx`s static output', () => {
    const output = [
      'JSON report written to /work/main/tmp/test-results/scripts.json',
      'Warning: command "vitest run" exited with non-zero status code',
      '',
      ' NX   Running target test for 3 projects failed',
      '',
      'Tasks not run because their dependencies failed or --nx-bail=true:',
      '',
      '- @correio/server:test',
      '',
      'Failed tasks:',
      '',
      '- @correio/codec:build',
      '\u001b[2m-\u001b[22m @correio/transport:test',
      '- @correio/scripts:test',
      '',
      '  Run duration:      1.8s',
    ].join('\n');
    expect([...failedTestProjects(output)]).toEqual(['@correio/transport', '@correio/scripts']);
    expect(failedTestProjects('Successfully ran target test for 3 projects').size).toBe(0);
  });
});
