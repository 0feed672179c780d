// The Docker engine the deploy test runs against: the one already running, or a dockerd it starts
// (as root, vfs storage, at the lowest CPU priority) and stops again. Where neither is possible it
// says why, and the test skips.
import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { waitFor } from '@correio/testing';

const run = promisify(execFile);

/** The commands running now, so that an interruption can end them before it cleans up. */
const running = new Set();

/** Ends the commands still running (a `compose up` must not go on creating what clean-up removes). */
export async function stopCommands() {
  const exits = [...running].map((child) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : (child.once('exit', resolve), child.kill('SIGTERM')))));
  await Promise.race([Promise.all(exits), new Promise((resolve) => setTimeout(resolve, 30_000).unref())]);
}

/** Runs a command to completion: its stdout (`withStderr`: then its stderr); rejects with its last lines. */
export async function runCommand(command, args, { timeoutMs = 120_000, env, input, withStderr = false } = {}) {
  const child = run(command, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: env ? { ...process.env, ...env } : process.env });
  running.add(child.child);
  child.child.once('exit', () => running.delete(child.child));
  if (input !== undefined) child.child.stdin.end(input);
  try {
    const { stdout, stderr } = await child;
    return withStderr ? `${stdout}${stderr}` : stdout;
  } catch (error) {
    const detail = `${error.stderr ?? ''}${error.stdout ?? ''}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(`${command} ${args.join(' ')} failed (${error.code ?? error.signal}): ${detail || error.message}`);
  }
}

async function succeeds(command, args, timeoutMs = 20_000) {
  try {
    await runCommand(command, args, { timeoutMs });
    return true;
  } catch {
    return false;
  }
}

async function onPath(name) {
  return succeeds('sh', ['-c', `command -v ${name}`]);
}

export class SkipReason extends Error {}

/**
 * A usable engine and compose command, or a SkipReason. `stop()` stops the dockerd this started
 * (nothing when the engine was already running).
 */
export async function startEngine({ logFile }) {
  if (!(await onPath('docker'))) throw new SkipReason('no docker CLI on PATH (Debian: apt-get install docker.io)');
  const compose = (await succeeds('docker', ['compose', 'version'])) ? ['docker', 'compose'] : (await succeeds('docker-compose', ['version'])) ? ['docker-compose'] : undefined;
  if (!compose) throw new SkipReason('neither `docker compose` nor `docker-compose` is installed (Debian: apt-get install docker-compose)');
  const info = await runCommand('docker', ['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 20_000 }).then(
    () => undefined,
    (error) => error.message.replace(/^.*? failed \([^)]*\): /s, '').split('\n').pop(),
  );
  if (info === undefined) return { compose, started: false, stop: () => Promise.resolve() };

  const noEngine = `no Docker engine answers (docker info: ${info})`;
  if (!(await onPath('dockerd'))) throw new SkipReason(`${noEngine}, and there is no dockerd to start one (Debian: apt-get install docker.io)`);
  if (process.getuid?.() !== 0) throw new SkipReason(`${noEngine}, and starting dockerd needs root`);
  const storage = process.env.CORREIO_DOCKERD_STORAGE_DRIVER ?? 'vfs';
  const log = openSync(logFile, 'a');
  // nice: every build step and container inherits the engine's priority.
  const dockerd = spawn('nice', ['-n', '19', 'dockerd', `--storage-driver=${storage}`], { stdio: ['ignore', log, log], detached: true });
  closeSync(log);
  let exited = false;
  dockerd.once('exit', () => (exited = true));
  const stop = async () => {
    if (exited) return;
    dockerd.kill('SIGTERM');
    await waitFor(() => exited, 'dockerd to stop', 60_000, 200).catch(() => dockerd.kill('SIGKILL'));
  };
  try {
    await waitFor(async () => exited || (await succeeds('docker', ['info'], 5_000)), 'dockerd to answer', 60_000, 500);
  } catch {
    // fall through: reported below with the daemon's own words
  }
  if (exited || !(await succeeds('docker', ['info'], 5_000))) {
    await stop();
    const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join('\n');
    throw new SkipReason(`dockerd --storage-driver=${storage} did not start:\n${tail}`);
  }
  return { compose, started: true, stop };
}
