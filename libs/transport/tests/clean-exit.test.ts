import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'exit-child.ts');

interface ChildRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Ms from the child's "closing" line to its exit. */
  readonly exitAfterClosing: number;
}

/** Runs the fixture in a fresh Node process; kills it (and fails) if it has not exited in 15 s. */
function runChild(mode: string): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=@correio/source', '--import', 'tsx', fixture, mode], {
      cwd: dirname(dirname(fixture)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let closingAt: number | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (closingAt === undefined && stdout.includes('closing')) closingAt = Date.now();
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const killer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the child did not exit within 15 s\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, 15_000);
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, exitAfterClosing: closingAt === undefined ? Infinity : Date.now() - closingAt });
    });
  });
}

describe('clean exit', () => {
  it.each(['normal', 'unreachable'])('a process that closes its transport objects exits within 2 s (%s peers)', async (mode) => {
    const run = await runChild(mode);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('closed');
    expect(run.exitAfterClosing).toBeLessThan(2000);
  });
});
