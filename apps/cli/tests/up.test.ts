import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CorreioProcess, isAlive, waitGone } from './helpers/runCorreio.js';

const running: CorreioProcess[] = [];
const scratch: string[] = [];

afterEach(async () => {
  // Whatever a failed test left: kill the supervisor and every component it reported.
  for (const up of running.splice(0)) {
    const pids = startedPids(up);
    up.child.kill('SIGKILL');
    for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    await up.exited;
  }
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function startUp(args: readonly string[]): CorreioProcess & { dataDir: string } {
  const dataDir = mkdtempSync(join(tmpdir(), 'correio-up-'));
  scratch.push(dataDir);
  const up = new CorreioProcess(['up', '--free-ports', '--data-dir', dataDir, '--summary-interval', '1s', '--color', 'never', ...args]);
  running.push(up);
  return Object.assign(up, { dataDir });
}

/** The pid of every component `up` started, from its `<name>: started (pid N)` lines. */
function startedPids(up: CorreioProcess): number[] {
  return up.lines.flatMap((line) => {
    const match = /^\[up\]\s+\S+: started \(pid (\d+)\)/.exec(line);
    return match ? [Number(match[1])] : [];
  });
}

function pidOf(up: CorreioProcess, name: string): number {
  const line = [...up.lines].reverse().find((text) => new RegExp(`^\\[up\\]\\s+${name}: started \\(pid \\d+\\)`).test(text));
  return Number(/pid (\d+)/.exec(line!)![1]);
}

/** Processes in any of these process groups (each component leads its own). */
function processesInGroups(groups: readonly number[]): string[] {
  const table = execFileSync('ps', ['-eo', 'pid=,pgid=,stat=,args='], { encoding: 'utf8' });
  return table.split('\n').filter((row) => {
    const [, pgid, stat] = row.trim().split(/\s+/);
    // A zombie (tsx's esbuild, say, orphaned when its component exited) runs nothing and holds no
    // port: it waits for init, which reaps it whenever it gets to it. Only a live process is left behind.
    return pgid !== undefined && groups.includes(Number(pgid)) && !stat?.startsWith('Z');
  });
}

describe('correio up', () => {
  it('starts the topology in order, shows traffic, and leaves no process behind after Ctrl-C', async () => {
    // --duration only bounds the run if the test itself fails to stop it.
    const up = startUp(['--duration', '120']);
    await up.waitFor(/^\[up\]\s+all 9 components ready in/, 90_000);
    // Dependency order: broker and proxy, then ref, then the servers and the gateway, then the bots.
    const order = (name: string) => up.lines.findIndex((line) => new RegExp(`^\\[up\\]\\s+${name}: ready in`).test(line));
    for (const name of ['broker', 'proxy', 'ref', 'srv-1', 'srv-2', 'srv-3', 'gateway', 'bot-1', 'bot-2']) expect(order(name), name).toBeGreaterThan(0);
    expect(Math.max(order('broker'), order('proxy'))).toBeLessThan(order('ref'));
    expect(order('ref')).toBeLessThan(Math.min(order('srv-1'), order('srv-2'), order('srv-3')));
    expect(Math.max(order('srv-1'), order('srv-2'), order('srv-3'), order('gateway'))).toBeLessThan(Math.min(order('bot-1'), order('bot-2')));
    expect(Math.max(order('broker'), order('proxy'))).toBeLessThan(order('gateway'));
    // `up` prints where the gateway serves, and how to log in.
    await up.waitFor(/^\[up\]\s+gateway: http:\/\/127\.0\.0\.1:\d+ \(API docs http:\/\/127\.0\.0\.1:\d+\/docs/, 10_000);
    await up.waitFor(/^\[up\]\s+dashboard: http:\/\/127\.0\.0\.1:\d+\/dashboard \(operator: ana; register ana first\)$/, 10_000);
    await up.waitFor(/^\[up\]\s+log in: npx correio client --user ana --register --broker tcp:\/\/127\.0\.0\.1:\d+ --proxy-sub tcp:\/\/127\.0\.0\.1:\d+ \(asks for a new password/, 10_000);
    // Password mode by default: one key set, made in the data directory, readable by its owner only.
    const keys = join(up.dataDir, 'auth-keys.json');
    expect(up.output).toContain(`auth: password mode; the servers share the signing keys in ${keys} (made now)`);
    expect(statSync(keys).mode & 0o777).toBe(0o600);
    expect(up.output).not.toMatch(/auth open/);
    // Each component's own readiness line is shown, prefixed.
    expect(up.output).toMatch(/^\[broker\]\s+broker ready tcp:\/\/127\.0\.0\.1:\d+ http=/m);
    expect(up.output).toMatch(/^\[srv-2\]\s+server ready srv-2 /m);

    // The summary shows traffic (messages committed per second) and a coordinator.
    const busy = await up.waitFor(/^\[up\]\s+\d+:\d\d \| 9\/9 ready \| (?!0\.0)\d+\.\d msg\/s \| coordinator srv-\d/, 60_000);
    expect(busy).toMatch(/replication lag (\d+ ops|n\/a) \| clock spread (\d+ ms|n\/a)/);

    const pids = startedPids(up);
    expect(pids).toHaveLength(9);
    up.child.kill('SIGINT');
    const { code } = await up.exited;
    expect(code, up.output.slice(-3000)).toBe(0);
    // Stopped in reverse order, each cleanly.
    const stopped = (name: string) => up.lines.findIndex((line) => new RegExp(`^\\[up\\]\\s+${name}: exited with status 0$`).test(line));
    for (const name of ['bot-1', 'srv-1', 'ref', 'broker']) expect(stopped(name), name).toBeGreaterThan(0);
    expect(stopped('bot-1')).toBeLessThan(stopped('srv-1'));
    expect(stopped('srv-1')).toBeLessThan(stopped('ref'));
    expect(stopped('ref')).toBeLessThan(stopped('broker'));
    // The bots report what they did when they are stopped.
    expect(up.output).toMatch(/^\[bot-1\]\s+total\s+\d+\s+\d+\s+0$/m);
    expect(await waitGone(pids, 5_000)).toEqual([]);
    expect(processesInGroups(pids)).toEqual([]);
  });

  it('stops by itself after --duration, exit status 0', async () => {
    // Long enough for six components to start on a busy 2-core machine before the duration ends
    // (under 10 s in CI, where the nine of the first test are ready and busy within 18 s).
    const up = startUp(['--duration', '30', '--servers', '1', '--bots', '1', '--auth', 'open']);
    await up.waitFor(/^\[up\]\s+all 6 components ready in/, 90_000);
    // --auth open says so, loudly, and so does the server itself.
    expect(up.output).toMatch(/^\[up\]\s+WARNING: auth open: there are no accounts and no passwords; anyone who can reach the broker can act as any user/m);
    expect(up.output).toMatch(/^\[srv-1\].*auth open: anyone who can reach the broker can act as any user/m);
    // Printed right after the ready line, and possibly in a later chunk of the pipe: wait for it.
    await up.waitFor(/^\[up\]\s+log in: npx correio client --user ana --broker \S+ --proxy-sub \S+ \(no password: auth open\)/, 10_000);
    await up.waitFor(/^\[up\]\s+dashboard: http:\/\/127\.0\.0\.1:\d+\/dashboard \(auth open: no log-in needed\)$/, 10_000);
    const { code } = await up.exited;
    expect(code, up.output.slice(-3000)).toBe(0);
    expect(up.output).toMatch(/^\[up\]\s+duration reached: stopping every component/m);
    // The final line times the shutdown itself, and the whole run separately.
    const [, stopSeconds, upSeconds] = /^\[up\]\s+stopped 6 components in ([\d.]+) s \(up ([\d.]+) s\)/m.exec(up.output) ?? [];
    expect(Number(upSeconds), up.output.slice(-3000)).toBeGreaterThanOrEqual(30);
    // Both are rounded to 0.1 s, and the run is the duration plus the shutdown: allow the rounding.
    expect(Number(stopSeconds)).toBeLessThanOrEqual(Number(upSeconds) - 30 + 0.1);
    expect(up.output).toMatch(/^\[up\]\s+\d+:\d\d \| 6\/6 ready \| (?!0\.0)\d+\.\d msg\/s/m);
    const pids = startedPids(up);
    expect(await waitGone(pids, 5_000)).toEqual([]);
  });

  it('restarts a crashed component, and its children stop by themselves when `up` is killed outright', async () => {
    const up = startUp(['--duration', '120', '--servers', '1', '--bots', '0']);
    await up.waitFor(/^\[up\]\s+all 5 components ready in/, 60_000);
    const first = pidOf(up, 'srv-1');
    const mark = up.lines.length;
    process.kill(first, 'SIGKILL');
    await up.waitFor(/^\[up\]\s+srv-1: killed by SIGKILL; restarting in 0\.5 s \(restart 1 of at most 5 a minute\)/, 10_000, mark);
    await up.waitFor(/^\[srv-1\]\s+server ready srv-1 .* ops=\d+/, 60_000, mark);
    const second = pidOf(up, 'srv-1');
    expect(second).not.toBe(first);

    // SIGKILL gives `up` no chance to stop anything: each child notices its stdin pipe close and shuts down cleanly.
    const pids = startedPids(up);
    up.child.kill('SIGKILL');
    await up.exited;
    expect(await waitGone(pids, 20_000)).toEqual([]);
  });
});
