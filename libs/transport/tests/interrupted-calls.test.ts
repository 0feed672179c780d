// A signal that interrupts libzmq while a socket connects, binds or disconnects (EINTR) is not a
// failure: the call is made again. The test floods a child process with SIGUSR2 while it connects
// and disconnects a socket 3,000 times; without the retry, 12 and 22 of them failed in two runs.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'interrupted-child.ts');

it('connects and disconnects through signals that interrupt libzmq (EINTR)', async () => {
  const child = spawn(process.execPath, ['--conditions=@correio/source', '--import', 'tsx', fixture, '3000'], {
    cwd: dirname(dirname(fixture)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let flooding = false;
  let exited = false;
  // Bounded by the child's exit (or the kill below).
  const flood = (): void => {
    if (exited || stdout.includes('"done"')) return;
    for (let signal = 0; signal < 200; signal++) child.kill('SIGUSR2');
    setImmediate(flood);
  };
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (!flooding && stdout.includes('ready')) {
      flooding = true;
      flood();
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    const killer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the child did not exit within 60 s\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, 60_000);
    child.on('exit', (exitCode) => {
      exited = true;
      clearTimeout(killer);
      resolve(exitCode);
    });
  });
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({ done: 3000, failures: [], failed: 0 });
}, 90_000);
