// The interactive client driven as a person would, through a pseudo-terminal: tmux runs it in a
// detached session, the test types with send-keys and reads the screen with capture-pane.
import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChatClient } from '@correio/client';
import { programCommand, sleep, workspaceRoot } from '@correio/testing';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { startClusterFor, type Cluster } from './helpers/cluster.js';
import { clientMain } from './helpers/processes.js';

const tmuxAvailable = spawnSync('tmux', ['-V']).status === 0;
// In CI (CI=true) a missing tmux fails these tests: .ci/run installs it. Elsewhere they are skipped, saying why.
const tmuxRequired = process.env.CI === 'true';
if (!tmuxAvailable && !tmuxRequired) console.warn('apps/client terminal tests SKIPPED: tmux is not installed (apt-get install -y tmux)');

// A tmux server of our own, on a socket of our own, so no one else's tmux is touched.
const socket = join(tmpdir(), `correio-client-test-${process.pid}.tmux`);
const cleanups = cleanupAfterEach();

afterEach(() => {
  spawnSync('tmux', ['-S', socket, 'kill-server']);
  rmSync(socket, { force: true });
});

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-S', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
}

/** The visible screen, wrapped lines joined (tmux drops trailing spaces), trailing blank lines dropped. */
function screen(): string {
  return tmux('capture-pane', '-p', '-J', '-t', 'chat').replace(/\s+$/, '');
}

async function waitForScreen(pattern: RegExp, what: string, timeoutMs = 20_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = screen().match(pattern);
    if (match) return match;
    if (Date.now() > deadline) throw new Error(`the screen never showed ${what} (${pattern}); it shows:\n${screen()}`);
    await sleep(50);
  }
}

function type(...keys: string[]): void {
  tmux('send-keys', '-t', 'chat', ...keys);
}

function shellQuote(args: readonly string[]): string {
  return args.map((arg) => `'${arg.replaceAll("'", `'\\''`)}'`).join(' ');
}

/** Runs the client with `args` and the cluster's endpoints in a tmux session of its own; the shell then prints its exit status. */
function launch(at: Cluster, args: readonly string[]): void {
  const client = shellQuote(programCommand(clientMain, [...args, '--broker', at.brokerEndpoint, '--proxy-sub', at.proxySub]));
  tmux('new-session', '-d', '-s', 'chat', '-x', '150', '-y', '40', '-c', workspaceRoot, `${client}; echo "[exit status $?]"; sleep 60`);
}

/** A cluster where ana has an account with `password`, and the client started as ana, asking for it. */
async function startAsAna(password: string): Promise<Cluster> {
  const at = await startClusterFor(cleanups, { auth: { auth: 'password' } });
  at.server.accounts.set('ana', password);
  launch(at, ['--user', 'ana']);
  await waitForScreen(/Password for ana \(empty on a server in open mode\):$/, 'the password prompt');
  return at;
}

describe.skipIf(!tmuxAvailable && !tmuxRequired)('the terminal client, in tmux', () => {
  beforeAll(() => {
    if (!tmuxAvailable) throw new Error('tmux is not installed, and CI=true requires these tests: apt-get install -y tmux (.ci/run does)');
  });

  it('registers with a hidden password, joins, publishes, shows what others send with sender and Lamport clock, keeps the prompt, quits', async () => {
    const at = await startClusterFor(cleanups, { auth: { auth: 'password' } });
    const bob = new ChatClient({ broker: at.brokerEndpoint, proxy: at.proxySub });
    cleanups.push(() => bob.close());
    await bob.register('bob', 'bob password');
    await bob.login('bob', { password: 'bob password' });
    await bob.createChannel('general');
    await bob.publish('general', 'earlier message');

    launch(at, ['--register']);

    await waitForScreen(/Your name:$/, 'the name prompt');
    type('ana', 'Enter');
    await waitForScreen(/Choose a password for ana \(8\+ characters\):$/, 'the password prompt');
    type('hunter2hunter2', 'Enter');
    await waitForScreen(/Registered and logged in as ana/, 'the login');
    expect(screen()).not.toContain('hunter2');
    expect(at.server.accounts.get('ana')).toBe('hunter2hunter2');
    await waitForScreen(/^ana \(lc \d+\)>$/m, 'the prompt');

    type('/join general', 'Enter');
    await waitForScreen(/-- joined #general; the last 1 message\(s\):\n\d\d:\d\d:\d\d #general bob: earlier message {2}\(lc \d+\)/, 'the history');
    await waitForScreen(/^ana #general \(lc \d+\)>$/m, 'the channel prompt');

    type('hello from the terminal', 'Enter');
    await waitForScreen(/\d\d:\d\d:\d\d #general ana: hello from the terminal {2}\(lc \d+\)/, 'my own publication');

    // Half a line typed when bob's message arrives: it must survive, below the message.
    type('half-typed');
    await waitForScreen(/> half-typed$/, 'the half-typed line');
    await sleep(200);
    const published = await bob.publish('general', 'hi ana, bob here');
    const line = await waitForScreen(new RegExp(`\\d\\d:\\d\\d:\\d\\d #general bob: hi ana, bob here {2}\\(lc ${published.lc}\\)\\n(.*)$`), 'bob’s publication');
    const prompt = /^ana #general \(lc (\d+)\)> half-typed$/.exec(line[1]!);
    expect(prompt, `the prompt below bob's message: ${line[1]}`).not.toBeNull();
    expect(Number(prompt![1])).toBeGreaterThan(published.lc); // ana's clock merged bob's publication

    const direct = await bob.direct('ana', 'psst');
    await waitForScreen(new RegExp(`\\[direct\\] bob → ana: psst {2}\\(lc ${direct.lc}\\)\\n.*> half-typed$`), 'bob’s direct message');

    type('C-u', '/quit', 'Enter');
    await waitForScreen(/-- bye$/m, 'the goodbye');
    // The client exits with status 0; the shell around it reports it (tmux's own exit status
    // reporting depends on when it reaps the process).
    await waitForScreen(/^\[exit status 0\]$/m, 'the exit status');
    expect(at.server.served.get('chat.logout.request')).toBe(1); // quitting logged ana out
  });

  it('/password asks for the current and the new password without showing them, and goes on with the new login\'s tokens', async () => {
    const at = await startAsAna('the old password');
    type('the old password', 'Enter');
    await waitForScreen(/^ana \(lc \d+\)>$/m, 'the prompt');
    type('/create general', 'Enter');
    await waitForScreen(/created #general/, 'the channel');
    const oldToken = at.server.auths.at(-1);
    expect(oldToken).toBeDefined();

    // Each question takes the prompt's place; every answer stays hidden.
    const change = async (current: string, next: string, again: string) => {
      type('/password', 'Enter');
      await waitForScreen(/^Current password:$/m, 'the current password question');
      type(current, 'Enter');
      await waitForScreen(/^New password \(8\+ characters\):$/m, 'the new password question');
      type(next, 'Enter');
      await waitForScreen(/^New password again:$/m, 'the confirmation question');
      type(again, 'Enter');
    };
    await change('the old password', 'a new password', 'a new pasword');
    await waitForScreen(/error: the new passwords differ: nothing changed\n^ana \(lc \d+\)>$/m, 'the mismatch, then the prompt');
    await change('not the old password', 'a new password', 'a new password');
    await waitForScreen(/error: the current password is wrong: nothing changed\n^ana \(lc \d+\)>$/m, 'the wrong password, then the prompt');
    expect(at.server.accounts.get('ana')).toBe('the old password');
    await change('the old password', 'a new password', 'a new password');
    await waitForScreen(/-- password changed for ana; logged in again with the new one .*\n^ana \(lc \d+\)>$/m, 'the change, then the prompt');
    expect(at.server.accounts.get('ana')).toBe('a new password');
    for (const secret of ['the old password', 'a new password', 'a new pasword']) expect(screen()).not.toContain(secret);

    // The next request carries the new login's token, which the server takes (the old one it no longer would).
    type('/create after-change', 'Enter');
    await waitForScreen(/created #after-change/, 'a request after the change');
    expect(at.server.auths.at(-1)).toBeDefined();
    expect(at.server.auths.at(-1)).not.toBe(oldToken);
    expect(at.server.served.get('chat.password.request')).toBe(2); // the mismatch sent nothing

    type('/quit', 'Enter');
    await waitForScreen(/^\[exit status 0\]$/m, 'the exit status');
  });

  it('asks for the password of an existing user, and says so plainly when it is wrong', async () => {
    await startAsAna('the right password');
    type('the wrong password', 'Enter');
    await waitForScreen(/wrong user name or password for ana \(a new user registers first: add --register\)/, 'the refusal');
    await waitForScreen(/^\[exit status 1\]$/m, 'the exit status');
    expect(screen()).not.toContain('the wrong password');
  });
});
