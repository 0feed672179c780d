import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
const fixture = join(import.meta.dirname, 'fixtures', 'shutdown-child.ts');
const children: ChildProcess[] = [];

function start(env: Record<string, string>): { child: ChildProcess; output: () => string; ready: Promise<void>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@correio/source', fixture], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('ready\n')) resolve();
    });
    child.once('exit', () => reject(new Error(`child exited before ready: ${output}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, ready, exited };
}

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

describe('onShutdown', () => {
  it('runs the handlers newest first on SIGTERM and exits 0 when they finish in time', async () => {
    const run = start({ CHILD_DRAIN_MS: '100', CHILD_LIMIT_MS: '5000' });
    await run.ready;
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.output()).toBe('ready\ndraining SIGTERM\nclosing first-registered\n');
  });

  it('exits 1 when the drain takes longer than allowed', async () => {
    const run = start({ CHILD_DRAIN_MS: '10000', CHILD_LIMIT_MS: '200' });
    await run.ready;
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(1);
    expect(run.output()).toContain('draining SIGINT');
  });

  it('exits at once on a second signal', async () => {
    const run = start({ CHILD_DRAIN_MS: '10000', CHILD_LIMIT_MS: '10000' });
    await run.ready;
    run.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 200));
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(1);
  });
});
