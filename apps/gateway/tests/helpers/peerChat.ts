// The Python and Go peers' chat clients (peers/python, peers/go) as child processes, driven through
// the JSON lines their interop drivers speak (peers/go/cmd/correio-chat documents them; tools/interop
// drives them the same way): one command line in, its answer line out, in order.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnCommand, workspaceRoot, type Child } from '@correio/testing';
import type { Json } from './cluster.js';

const pythonPeer = join(workspaceRoot, 'peers', 'python');
const python = join(workspaceRoot, '.venv', 'bin', 'python');
const goPeer = join(workspaceRoot, 'peers', 'go');

/** Fails with a clear message when .venv or Go is missing: these tests never skip (CI runs `npm run setup:peers` first). */
export function requirePeerToolchains(): void {
  const missing: string[] = [];
  if (!existsSync(python)) missing.push(`the Python virtual environment (${python})`);
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) missing.push(`the Go toolchain (\`go version\` failed: ${go.error?.message ?? go.stderr.trim()})`);
  if (missing.length > 0) throw new Error(`the Python and Go publishers need ${missing.join(' and ')}: run \`npm run setup:peers\` and install Go 1.22+ if needed`);
}

/** Builds peers/go/cmd/correio-chat into `outDir` (go build's cache makes rebuilds quick); resolves its path. */
export async function buildGoChat(outDir: string, timeoutMs = 300_000): Promise<string> {
  const build = spawnCommand('go build', 'go', ['build', '-o', `${outDir}/`, './cmd/correio-chat'], { cwd: goPeer, env: { GOFLAGS: '-buildvcs=false' } });
  const timer = setTimeout(() => build.kill('SIGKILL'), timeoutMs);
  const { code, signal } = await build.exited;
  clearTimeout(timer);
  if (code !== 0) throw build.failure(`failed (exit ${code ?? signal})`);
  return join(outDir, 'correio-chat');
}

export interface PeerChatOptions {
  readonly broker: string;
  readonly proxy: string;
  readonly user: string;
  /** The broker service of its requests: `chat` or `srv.<id>`. */
  readonly service: string;
}

/** One user's chat session in Python or Go. */
export class PeerChat {
  #next = 0;

  private constructor(readonly child: Child) {}

  static python(options: PeerChatOptions): PeerChat {
    const args = ['-m', 'interop.chat_driver', '--broker', options.broker, '--proxy', options.proxy, '--user', options.user, '--service', options.service, '--retries', '2'];
    return new PeerChat(spawnCommand(`python ${options.user}`, python, args, { cwd: pythonPeer, stdin: 'pipe' }));
  }

  static go(program: string, options: PeerChatOptions): PeerChat {
    const args = ['-broker', options.broker, '-proxy', options.proxy, '-user', options.user, '-service', options.service, '-retries', '2'];
    return new PeerChat(spawnCommand(`go ${options.user}`, program, args, { stdin: 'pipe' }));
  }

  /** Resolves once the client printed its ready line (connected). */
  async ready(timeoutMs = 60_000): Promise<this> {
    await this.child.waitForLine(/"ready"\s*:\s*true/, timeoutMs);
    return this;
  }

  /** Runs one operation (`publish`, `login`, …) and resolves with its reply body; rejects with the server's error code and message. */
  async run(op: string, args: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<Json> {
    const n = ++this.#next;
    const from = this.child.lines.length;
    this.child.write(JSON.stringify({ n, op, ...args }));
    const line = await this.child.waitForLine((text) => answer(text)?.n === n, timeoutMs, from);
    const reply = answer(line)!;
    if (!reply.ok) throw new Error(`${this.child.name}: ${op} failed with ${reply.error?.code}: ${reply.error?.message}`);
    return reply.result;
  }

  /** The live events it printed so far of one kind (`publication`, `direct`, `gap`), as parsed lines. */
  events(kind: string): Json[] {
    return this.child.lines.map(answerOrEvent).filter((line): line is Json => line?.event === kind);
  }

  /** Ends its input (the session ends) and waits for it to exit, killing it after `graceMs`. */
  async close(graceMs = 5_000): Promise<void> {
    this.child.endInput();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.child.exited;
    clearTimeout(timer);
  }
}

/** A command's answer line (`{"n", "ok", …}`), or undefined for an event or anything else. */
function answer(line: string): Json | undefined {
  const parsed = answerOrEvent(line);
  return typeof parsed?.n === 'number' ? parsed : undefined;
}

/** A JSON line of the driver, or undefined for anything else (log lines). */
function answerOrEvent(line: string): Json | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Json;
  } catch {
    return undefined;
  }
}
