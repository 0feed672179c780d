import { describe, expect, it } from 'vitest';
import { RestartPolicy } from '../src/up/RestartPolicy.js';
import { SupervisedChild, type ChildListener } from '../src/up/SupervisedChild.js';

describe('SupervisedChild', () => {
  it('counts a restart that cannot even spawn as a crash and gives up after the policy, instead of throwing from its timer', async () => {
    const lines: string[] = [];
    const exits: (number | undefined)[] = [];
    const listener: ChildListener = {
      line: (_child, _stream, text) => lines.push(text),
      started: () => undefined,
      ready: () => undefined,
      exited: (_child, _code, _signal, restartInMs) => exits.push(restartInMs),
    };
    let starts = 0;
    const child = new SupervisedChild(
      {
        name: 'crasher',
        program: 'broker',
        args: [],
        // The first start runs a program that crashes; every restart after it cannot be spawned at all.
        env: () => {
          starts += 1;
          if (starts > 1) throw new Error('no environment for a restart');
          return {};
        },
        ready: { stream: 'stdout', pattern: /never/ },
        mayFinish: false,
      },
      { command: process.execPath, args: ['-e', 'process.exit(1)'] },
      new RestartPolicy({ maxRestarts: 2, initialDelayMs: 10, maxDelayMs: 20 }),
      listener,
    );
    child.start();
    // An exception from the restart timer would fail this run as an uncaught error.
    await expect(child.whenReady()).rejects.toThrow(/kept crashing/);
    expect(child.state).toBe('failed');
    expect(lines.filter((line) => line === 'cannot start: no environment for a restart')).toHaveLength(2);
    expect(exits).toEqual([expect.any(Number), expect.any(Number), undefined]);
  });
});
