import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, programCommand, scratchDir, sleep, spawnCommand, spawnProgram, waitFor, workspaceRoot } from '@correio/testing';

const program = join(import.meta.dirname, 'fixtures', 'program.ts');
const parentFixture = join(import.meta.dirname, 'fixtures', 'parent.ts');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

afterEach(killAll);

describe('spawnProgram and Child', () => {
  it('runs a TypeScript program from its sources, reads its lines and JSON events, and writes to its stdin', async () => {
    const child = spawnProgram('echo', program, ['--name', 'echo', '--exit-code', '4'], { stdin: 'pipe', env: { PROGRAM_TEST_VALUE: 'passed' } });
    expect(await child.waitForLine(/^echo ready /)).toBe(`echo ready pid=${child.process.pid}`);
    expect(await child.waitForEvent('started')).toEqual({ event: 'started', name: 'echo', env: 'passed' });
    child.write('first');
    child.write('second');
    expect(await child.waitForEvent('echo', 2)).toEqual({ event: 'echo', line: 'second' });
    child.endInput();
    expect(await child.exited).toEqual({ code: 4, signal: null });
    expect(child.alive).toBe(false);
    expect(child.events('echo').map((event) => event['line'])).toEqual(['first', 'second']);
    expect(child.stdout.endsWith('{"event":"done"}\nbye')).toBe(true);
    expect(child.stderr).toBe('');
  });

  it('stops a spawned program whose spawner was killed instead of letting it outlive it', async () => {
    const parent = spawnProgram('parent', parentFixture);
    const pid = Number(/pid=(\d+)/.exec(await parent.waitForLine(/^child pid=/, 60_000))![1]);
    expect(alive(pid)).toBe(true);
    parent.process.kill('SIGKILL');
    await parent.exited;
    await waitFor(() => !alive(pid), `the orphaned program ${pid} to exit`, 30_000);
  });

  it('finds a line from a given index on', async () => {
    const child = spawnProgram('echo', program, [], { stdin: 'pipe' });
    await child.waitForEvent('started');
    child.write('again');
    await child.waitForEvent('echo');
    const from = child.lines.length;
    child.write('again');
    expect(await child.waitForLine(/"line":"again"/, 30_000, from)).toBe(child.lines[from]);
  });

  it('fails a wait with the output of a program that exits first', async () => {
    const child = spawnProgram('failing', program, ['--name', 'failing', '--fail']);
    await expect(child.waitForLine(/ready/)).rejects.toThrow(/^failing exited before a line matching \/ready\/.*stderr: failing: failing on purpose/s);
    expect((await child.exited).code).toBe(3);
  });

  it('fails a wait that is not met in time, naming what it waited for', async () => {
    const child = spawnProgram('idle', program, ['--name', 'idle', '--stay']);
    await child.waitForEvent('started');
    await expect(child.waitForEvent('never', 1, 300)).rejects.toThrow(/^idle: no event never #1 within 300 ms; stdout: idle ready/);
    expect(child.alive).toBe(true);
  });

  it('stops a program that ignores SIGTERM with SIGKILL after the grace period', async () => {
    const child = spawnProgram('stubborn', program, ['--stay', '--ignore-sigterm']);
    await child.waitForEvent('started');
    expect(await child.stop(500)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(child.events('sigterm-ignored')).toHaveLength(1);
  });

  it('killAll kills every child, a stopped one too, and waits until they are gone', async () => {
    const children = ['a', 'b'].map((name) => spawnProgram(name, program, ['--name', name, '--stay']));
    await Promise.all(children.map((child) => child.waitForEvent('started')));
    children[0]!.kill('SIGSTOP');
    await killAll();
    for (const child of children) {
      expect(child.alive).toBe(false);
      expect((await child.exited).signal).toBe('SIGKILL');
    }
  });

  it('calls a line listener with every line from then on, before a wait sees it', async () => {
    const child = spawnProgram('echo', program, [], { stdin: 'pipe' });
    await child.waitForEvent('started');
    const heard: string[] = [];
    child.onLine((line) => heard.push(line));
    child.write('one');
    child.write('two');
    const seen = await child.waitForLine((line) => line.includes('"two"'));
    expect(heard).toEqual(['{"event":"echo","line":"one"}', seen]);
  });

  it('finds a line with a predicate, and names the predicate when none comes', async () => {
    const child = spawnProgram('idle', program, ['--name', 'idle', '--stay']);
    const started = (line: string) => line.startsWith('{') && (JSON.parse(line) as { event?: string }).event === 'started';
    expect(JSON.parse(await child.waitForLine(started))).toEqual({ event: 'started', name: 'idle', env: null });
    await expect(child.waitForLine(function neverPrinted() {
      return false;
    }, 300)).rejects.toThrow(/^idle: no a line accepted by neverPrinted within 300 ms/);
  });

  it('runs any command with a working directory, an environment and a stdin pipe', async () => {
    const scratch = scratchDir('correio-testing-command-');
    try {
      const child = spawnCommand('shell', 'sh', ['-c', 'echo "$PWD $GREETING"; exec cat'], { cwd: scratch.dir, env: { GREETING: 'olá' }, stdin: 'pipe' });
      expect(await child.waitForLine(/olá$/)).toBe(`${scratch.dir} olá`);
      child.write('back');
      await child.waitForLine(/^back$/);
      child.endInput();
      expect(await child.exited).toEqual({ code: 0, signal: null });
    } finally {
      scratch.remove();
    }
  });

  it('reports a command that cannot start as an exit, with the reason in stderr', async () => {
    const child = spawnCommand('missing', 'correio-no-such-command');
    await expect(child.waitForLine(/./)).rejects.toThrow(/^missing exited before a line matching .*ENOENT/s);
    expect((await child.exited).code).not.toBe(0);
    expect(child.stderr).toMatch(/spawn correio-no-such-command ENOENT/);
  });

  it('survives writing to a child that exits while its input is still being written (EPIPE)', async () => {
    const child = spawnCommand('quitter', process.execPath, ['-e', 'process.stdin.once("data", () => process.exit(5))'], { stdin: 'pipe' });
    const line = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 2_000 && child.alive; i += 1) {
      child.write(line);
      await sleep(5);
    }
    expect(await child.exited).toEqual({ code: 5, signal: null });
    await sleep(100); // a write error would surface as an unhandled error by now
  });

  it('builds failure errors that name the process and carry the tail of its output', async () => {
    const child = spawnProgram('failing', program, ['--name', 'failing', '--fail']);
    await child.exited;
    const error = child.failure('did something wrong');
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(/^failing did something wrong; stdout: ; stderr: failing: failing on purpose/);
  });

  it('gives the command line for wrappers that run the program themselves', () => {
    expect(programCommand('main.ts', ['--x'])).toEqual([
      process.execPath, '--import', 'tsx', '--import', expect.stringMatching(/^file:.*\/exitWithParent\.(ts|js)$/), '--conditions=@correio/source', 'main.ts', '--x',
    ]);
    expect(join(workspaceRoot, 'libs', 'testing', 'tests')).toBe(import.meta.dirname);
  });
});
