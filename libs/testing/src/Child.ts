import type { ChildProcess } from 'node:child_process';

/** How a child process ended. */
export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** The stderr kept per child: enough for a failure message, bounded for a chatty process. */
const STDERR_TAIL_CHARS = 20_000;
/** Probes that look at more than the output (clocks, files, other processes) are re-run this often. */
const POLL_MS = 50;

/** Every child not yet closed, for killAll. */
const running = new Set<Child>();

/**
 * A child process of a test, read line by line: its stdout lines, the tail of its stderr for
 * failure messages, and bounded waits for what it prints. Every Child is tracked until it closes,
 * so that killAll() in afterEach/afterAll leaves no process behind, even when a test fails.
 */
export class Child {
  /** Every complete stdout line so far. */
  readonly lines: string[] = [];
  /** Resolves once the process has exited and its output has been read ('close'), so no line is missed. */
  readonly exited: Promise<ExitStatus>;
  #partial = '';
  #stderr = '';
  #closed = false;
  readonly #waiters = new Set<() => void>();
  readonly #listeners = new Set<(line: string) => void>();

  /** Tracks `process`, which must have been spawned with stdout and stderr piped. */
  constructor(
    readonly name: string,
    readonly process: ChildProcess,
  ) {
    if (!process.stdout || !process.stderr) throw new TypeError(`${name}: spawn the process with stdout and stderr piped`);
    running.add(this);
    process.stdout.on('data', (chunk: Buffer) => {
      const parts = (this.#partial + chunk.toString()).split('\n');
      this.#partial = parts.pop()!;
      this.lines.push(...parts);
      for (const line of parts) for (const listener of this.#listeners) listener(line);
      this.#wake();
    });
    process.stderr.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-STDERR_TAIL_CHARS);
      this.#wake();
    });
    // A child that died must not kill the test with EPIPE: its exit is reported by the waits.
    process.stdin?.on('error', () => undefined);
    // A command that cannot start (ENOENT) closes too; the reason goes where a failure message reads it.
    process.on('error', (error) => {
      this.#stderr += `\n${String(error)}`;
    });
    this.exited = new Promise((resolve) =>
      process.once('close', (code, signal) => {
        this.#closed = true;
        running.delete(this);
        this.#wake();
        resolve({ code, signal });
      }),
    );
  }

  /** False once the process has exited and its output has been read. */
  get alive(): boolean {
    return !this.#closed;
  }

  /** All of stdout so far, an unfinished last line (a prompt) included. */
  get stdout(): string {
    return this.lines.length === 0 ? this.#partial : `${this.lines.join('\n')}\n${this.#partial}`;
  }

  /** The last 20,000 characters of stderr. */
  get stderr(): string {
    return this.#stderr;
  }

  /** The JSON objects printed one per line (`{"event": …}`), optionally only those of one event. */
  events<T = Record<string, unknown>>(event?: string): T[] {
    return this.lines
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((parsed) => event === undefined || parsed['event'] === event) as T[];
  }

  /** Calls `listener` with every complete stdout line from now on, before any wait sees it. */
  onLine(listener: (line: string) => void): void {
    this.#listeners.add(listener);
  }

  /** Resolves with the first line at index `from` or later that `match` (a pattern or a predicate) accepts. */
  waitForLine(match: RegExp | ((line: string) => boolean), timeoutMs = 30_000, from = 0): Promise<string> {
    const accepts = typeof match === 'function' ? match : (line: string) => match.test(line);
    const what = typeof match === 'function' ? `a line accepted by ${match.name || 'the predicate'}` : `a line matching ${match}`;
    let next = from; // each line is looked at once, however often the wait wakes
    return this.waitFor(() => {
      for (; next < this.lines.length; next += 1) if (accepts(this.lines[next]!)) return this.lines[next]!;
      return undefined;
    }, what, timeoutMs);
  }

  /** Resolves with the `n`th JSON event of a kind (1-based). */
  waitForEvent<T = Record<string, unknown>>(event: string, n = 1, timeoutMs = 30_000): Promise<T> {
    return this.waitFor(() => this.events<T>(event)[n - 1], `event ${event} #${n}`, timeoutMs);
  }

  /**
   * Runs `probe` on every output and every 50 ms until it returns something other than undefined
   * or false. Rejects when the process closes first or after `timeoutMs`, with the tail of its
   * output in the message.
   */
  waitFor<T>(probe: () => T | undefined | false, what: string, timeoutMs = 30_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        let found: T | undefined | false;
        try {
          found = probe();
        } catch (error) {
          done();
          reject(error as Error);
          return;
        }
        if (found !== undefined && found !== false) {
          done();
          resolve(found);
        } else if (!this.alive) {
          done();
          reject(this.failure(`exited before ${what}`));
        }
      };
      const poll = setInterval(check, POLL_MS);
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms${this.#output()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        clearInterval(poll);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Writes one line to stdin (spawned with `stdin: 'pipe'`). */
  write(line: string): void {
    this.#stdin().write(`${line}\n`);
  }

  /** Closes stdin: end of input for a program reading commands. */
  endInput(): void {
    this.#stdin().end();
  }

  /** Sends `signal` unless the process has already exited. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill(signal);
  }

  /** SIGTERM, then SIGKILL if it is still running after `graceMs`; resolves once it has closed. */
  async stop(graceMs = 8_000): Promise<ExitStatus> {
    this.kill('SIGTERM');
    const forced = setTimeout(() => this.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(forced);
    }
  }

  /** An error that names this process and says `what` went wrong, with the tail of its output. */
  failure(what: string): Error {
    return new Error(`${this.name} ${what}${this.#output()}`);
  }

  #stdin(): NodeJS.WritableStream {
    if (!this.process.stdin) throw new TypeError(`${this.name}: spawn the process with stdin: 'pipe' to write to it`);
    return this.process.stdin;
  }

  #wake(): void {
    for (const wake of this.#waiters) wake();
  }

  #output(): string {
    return `; stdout: ${this.lines.slice(-20).join('\n')}; stderr: ${this.#stderr.slice(-2_000)}`;
  }
}

/**
 * Kills every child still running (SIGCONT first: a stopped process must run to die of SIGKILL
 * promptly) and waits until each has closed. Call it in afterEach or afterAll.
 */
export async function killAll(): Promise<void> {
  const children = [...running];
  for (const child of children) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
  await Promise.all(children.map((child) => child.exited));
}
