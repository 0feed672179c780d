import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { ProgramName } from '../programs.js';
import { SUPERVISED_ENV } from '../watchSupervisor.js';
import { parseReadiness, type Readiness, type ReadinessProbe } from './readiness.js';
import { RestartPolicy } from './RestartPolicy.js';

/** One component of the topology, as `correio up` runs it. */
export interface ComponentSpec {
  /** Its name in the logs: `broker`, `srv-2`, `bot-1`. */
  readonly name: string;
  readonly program: ProgramName;
  /** Arguments after `correio <program>` (`['bot']` for a traffic bot). */
  readonly args: readonly string[];
  /** Its environment, computed at every (re)start: endpoints chosen at run time are known by then. */
  env(): Readonly<Record<string, string>>;
  readonly ready: ReadinessProbe;
  /** Status 0 means "finished" (a bot that ran its course), not a crash. */
  readonly mayFinish: boolean;
}

/** How `correio up` itself is started again, for a child: the node binary and its arguments before the subcommand. */
export interface Launcher {
  readonly command: string;
  readonly args: readonly string[];
}

/** `waiting`: not started yet (an earlier stage is not ready); `backoff`: crashed, restarting soon. */
export type ChildState = 'waiting' | 'starting' | 'ready' | 'backoff' | 'stopping' | 'stopped' | 'finished' | 'failed';

export interface ChildListener {
  line(child: SupervisedChild, stream: 'stdout' | 'stderr', text: string): void;
  started(child: SupervisedChild, pid: number): void;
  ready(child: SupervisedChild, readiness: Readiness, afterMs: number): void;
  exited(child: SupervisedChild, code: number | null, signal: NodeJS.Signals | null, restartInMs: number | undefined): void;
}

/**
 * A component run as a child process: its own process group (so a Ctrl-C at the terminal reaches
 * `up` alone, which then stops the components in order), stdout and stderr read line by line,
 * ready when its readiness line appears, restarted with backoff when it crashes, stopped with
 * SIGTERM and, past a deadline, SIGKILL.
 */
export class SupervisedChild {
  readonly spec: ComponentSpec;
  #state: ChildState = 'waiting';
  #process: ChildProcess | undefined;
  /** From spawn until every stream of the process closed. */
  #running = false;
  #readiness: Readiness | undefined;
  #startedAt = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #exited: Promise<void> = Promise.resolve();
  #readyWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  readonly #policy: RestartPolicy;
  readonly #launcher: Launcher;
  readonly #listener: ChildListener;
  /** Every pid this component has had, for checks that nothing is left behind. */
  readonly pids: number[] = [];
  lastExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(spec: ComponentSpec, launcher: Launcher, policy: RestartPolicy, listener: ChildListener) {
    this.spec = spec;
    this.#launcher = launcher;
    this.#policy = policy;
    this.#listener = listener;
  }

  get name(): string {
    return this.spec.name;
  }

  get state(): ChildState {
    return this.#state;
  }

  get pid(): number | undefined {
    return this.#running ? this.#process?.pid : undefined;
  }

  /** What its latest readiness line said, while it is ready. */
  get readiness(): Readiness | undefined {
    return this.#state === 'ready' ? this.#readiness : undefined;
  }

  /** The readiness of its latest run, even after it stopped (endpoints it had bound). */
  get lastReadiness(): Readiness | undefined {
    return this.#readiness;
  }

  get restarts(): number {
    return this.#policy.total;
  }

  start(): void {
    if (this.#state === 'stopping' || this.#state === 'failed') return;
    this.#state = 'starting';
    this.#startedAt = performance.now();
    const child = spawn(this.#launcher.command, [...this.#launcher.args, this.spec.program, ...this.spec.args], {
      env: { ...process.env, ...this.spec.env(), [SUPERVISED_ENV]: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    this.#process = child;
    this.#running = true;
    if (child.pid !== undefined) {
      this.pids.push(child.pid);
      this.#listener.started(this, child.pid);
    }
    let ended = false;
    this.#exited = new Promise<void>((resolve) => {
      const end = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (ended) return;
        ended = true;
        this.#running = false;
        this.#onExit(code, signal);
        resolve();
      };
      // 'close', not 'exit': every line it wrote has been read by then.
      child.once('close', end);
      child.once('error', (error) => {
        this.#listener.line(this, 'stderr', `cannot start: ${error.message}`);
        // Past the descriptor limit (EMFILE, ENFILE) Node gives the child no pipes and no 'close': it ends here.
        if (child.pid === undefined && child.stdout === null) end(null, null);
      });
    });
    // The stdin pipe stays open and silent: its closing is the child's signal that `up` is gone.
    child.stdin?.on('error', () => undefined);
    for (const stream of ['stdout', 'stderr'] as const) {
      // Node leaves the pipes out when spawn fails with EMFILE or ENFILE; its 'error' says why.
      const input = child[stream];
      if (input === null) continue;
      const lines = createInterface({ input, crlfDelay: Infinity });
      lines.on('line', (text) => this.#onLine(child, stream, text));
    }
  }

  /** Resolves once ready; rejects if the component is given up (or stopped) first. */
  whenReady(): Promise<void> {
    if (this.#state === 'ready') return Promise.resolve();
    if (this.#state === 'failed' || this.#state === 'stopped' || this.#state === 'stopping') {
      return Promise.reject(new Error(`${this.name} is ${this.#state}`));
    }
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves once the process is gone. No restart after this. */
  async stop(timeoutMs: number): Promise<'exited' | 'killed' | 'not-running'> {
    clearTimeout(this.#restartTimer);
    const running = this.pid !== undefined;
    if (running) this.#state = 'stopping';
    else if (this.#state !== 'finished' && this.#state !== 'failed') this.#state = 'stopped';
    this.#rejectWaiters(`${this.name} was stopped`);
    if (!running) return 'not-running';
    this.#signal('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const outcome = await Promise.race([this.#exited.then(() => 'exited' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'exited') return 'exited';
    this.kill();
    await Promise.race([this.#exited, new Promise((resolve) => setTimeout(resolve, 2_000))]);
    return 'killed';
  }

  /** SIGKILL now, to the whole process group; no restart. Safe to call from an 'exit' handler. */
  kill(): void {
    clearTimeout(this.#restartTimer);
    if (this.#state !== 'failed' && this.#state !== 'finished') this.#state = 'stopping';
    this.#signal('SIGKILL');
  }

  #signal(signal: NodeJS.Signals): void {
    const pid = this.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal); // its process group: the child and anything it started
    } catch {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  }

  #onLine(child: ChildProcess, stream: 'stdout' | 'stderr', text: string): void {
    this.#listener.line(this, stream, text);
    if (child !== this.#process || this.#state !== 'starting') return;
    const probe = this.spec.ready;
    if (probe.stream !== stream || !probe.pattern.test(text)) return;
    this.#state = 'ready';
    this.#readiness = parseReadiness(text);
    this.#listener.ready(this, this.#readiness, performance.now() - this.#startedAt);
    for (const waiter of this.#readyWaiters.splice(0)) waiter.resolve();
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.lastExit = { code, signal };
    if (this.#state === 'stopping') {
      this.#state = 'stopped';
      this.#listener.exited(this, code, signal, undefined);
      return;
    }
    if (code === 0 && this.spec.mayFinish) {
      this.#state = 'finished';
      this.#listener.exited(this, code, signal, undefined);
      this.#rejectWaiters(`${this.name} finished before it was ready`);
      return;
    }
    const delay = this.#policy.next(Date.now());
    this.#listener.exited(this, code, signal, delay);
    if (delay === undefined) {
      this.#state = 'failed';
      this.#rejectWaiters(`${this.name} kept crashing (${this.#policy.total} restarts); given up`);
      return;
    }
    this.#state = 'backoff';
    this.#restartTimer = setTimeout(() => this.#restart(), delay);
  }

  /** A restart from the backoff timer, where a throw would end `up` and every component with it. */
  #restart(): void {
    try {
      this.start();
    } catch (error) {
      // spawn throws for some failures (ENOMEM, E2BIG, a bad argument): counted as a crash, restarted after the next backoff.
      this.#running = false;
      this.#listener.line(this, 'stderr', `cannot start: ${(error as Error).message}`);
      this.#onExit(null, null);
    }
  }

  #rejectWaiters(message: string): void {
    for (const waiter of this.#readyWaiters.splice(0)) waiter.reject(new Error(message));
  }
}
