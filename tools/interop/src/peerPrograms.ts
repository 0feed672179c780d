import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnCommand, type Child } from '@correio/testing';
import { goPeerDir, pythonExecutable, pythonPeerDir, rustPeerDir } from './paths.js';

/**
 * Fails with a clear message when the Python virtual environment, the Go toolchain or cargo is
 * missing. CI always has them (`npm test` runs `npm run setup:peers` first), so the tests never skip.
 */
export function requirePeerToolchains(): void {
  const missing: string[] = [];
  if (!existsSync(pythonExecutable)) missing.push(`the Python virtual environment (${pythonExecutable})`);
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) missing.push(`the Go toolchain (\`go version\` failed: ${go.error?.message ?? go.stderr.trim()})`);
  const cargo = spawnSync('cargo', ['--version'], { encoding: 'utf8' });
  if (cargo.error || cargo.status !== 0) missing.push(`cargo (\`cargo --version\` failed: ${cargo.error?.message ?? cargo.stderr.trim()})`);
  if (missing.length > 0) {
    throw new Error(`the interoperability tests need ${missing.join(' and ')}: run \`npm run setup:peers\` (tools/scripts/setup-peers.sh) and install Go 1.22+ and Rust if needed`);
  }
}

/** The Go peer's commands (peers/go/cmd), built once per test file. */
export interface GoPrograms {
  /** correio-chat: a chat session driven by JSON lines. */
  readonly chat: string;
  /** correio-echo: a microservice worker (svc.<name>: <name>.echo, <name>.add). */
  readonly echo: string;
  /** correio-call: calls one action and prints the result. */
  readonly call: string;
  /** correio-pubsub: subscribes and prints what arrives, or publishes batches. */
  readonly pubsub: string;
  /** correio-service: the service driver of SERVICE-DRIVER.md. */
  readonly service: string;
}

/** Builds every command of peers/go into `outDir` (go build's cache makes rebuilds quick). */
export async function buildGoPrograms(outDir: string, timeoutMs = 300_000): Promise<GoPrograms> {
  await runBuild(spawnCommand('go build', 'go', ['build', '-o', `${outDir}/`, './cmd/...'], { cwd: goPeerDir, env: { GOFLAGS: '-buildvcs=false' } }), timeoutMs);
  return { chat: join(outDir, 'correio-chat'), echo: join(outDir, 'correio-echo'), call: join(outDir, 'correio-call'), pubsub: join(outDir, 'correio-pubsub'), service: join(outDir, 'correio-service') };
}

/** The Rust peer's programs (peers/rust/src/bin). */
export interface RustPrograms {
  /** correio-chat: a chat session driven by JSON lines. */
  readonly chat: string;
  /** correio-echo: a microservice worker (svc.<name>: <name>.echo, <name>.add). */
  readonly echo: string;
}

/**
 * Builds the Rust peer's programs (`cargo build --release --locked`; setup:peers has built them
 * already, so this only checks they are current) and returns their paths in target/release.
 */
export async function buildRustPrograms(timeoutMs = 900_000): Promise<RustPrograms> {
  await runBuild(spawnCommand('cargo build', 'nice', ['-n', '10', 'cargo', 'build', '--release', '--locked', '--quiet'], { cwd: rustPeerDir }), timeoutMs);
  const release = join(rustPeerDir, 'target', 'release');
  return { chat: join(release, 'correio-chat'), echo: join(release, 'correio-echo') };
}

async function runBuild(build: Child, timeoutMs: number): Promise<void> {
  const timer = setTimeout(() => build.kill('SIGKILL'), timeoutMs);
  const { code, signal } = await build.exited;
  clearTimeout(timer);
  if (code !== 0) throw build.failure(`failed (exit ${code ?? signal})`);
}

/** Runs a program of peers/python/interop (`python -m interop.<module>`) under the virtual environment. */
export function spawnPython(name: string, module: string, args: readonly string[], env: Record<string, string> = {}): Child {
  return spawnCommand(name, pythonExecutable, ['-m', `interop.${module}`, ...args], { cwd: pythonPeerDir, stdin: 'pipe', env });
}
