import { mkdirSync, rmSync } from 'node:fs';
import { createKeySetIfMissing } from '@correio/identity';
import { resolve } from 'node:path';
import { LogPrinter, type ColorMode } from './LogPrinter.js';
import { RestartPolicy } from './RestartPolicy.js';
import { figures, renderFigures, type ComponentSample, type Sample } from './Summary.js';
import { SupervisedChild, type ChildListener, type Launcher } from './SupervisedChild.js';
import { Topology, type TopologySettings } from './Topology.js';

export interface UpSettings extends TopologySettings {
  /** Empty the data directory before starting. */
  readonly fresh: boolean;
  /** Restarts allowed per component within a minute. */
  readonly maxRestarts: number;
  /** How long each stage may take to become ready. */
  readonly readyTimeoutMs: number;
  /** How long each component may take to stop after SIGTERM before it is killed. */
  readonly stopTimeoutMs: number;
  readonly summaryIntervalMs: number;
  readonly color: ColorMode;
}

export interface UpOptions {
  /** How to start `correio` again for a child; defaults to this process's own command line. */
  readonly launcher?: Launcher;
  readonly out?: NodeJS.WritableStream;
}

/**
 * `correio up`: starts the topology stage by stage (broker and proxy, then the reference server,
 * then the servers, then the bots), each component a child process whose readiness line is
 * awaited; shows their output and a live summary; restarts what crashes (bounded); and on
 * Ctrl-C, SIGTERM or the end of `durationMs` stops everything in reverse order — SIGTERM, a
 * bounded wait, SIGKILL — and resolves with the exit status (0 when everything stopped cleanly).
 */
export async function runUp(settings: UpSettings, options: UpOptions = {}): Promise<number> {
  const printer = new LogPrinter({ color: settings.color, ...(options.out ? { out: options.out } : {}) });
  const topology = new Topology(settings);
  const launcher = options.launcher ?? { command: process.execPath, args: [...process.execArgv, process.argv[1]!] };
  const began = performance.now();
  const elapsed = () => performance.now() - began;
  let stopping = false;

  const listener: ChildListener = {
    line: (child, _stream, text) => printer.line(child.name, text),
    started: (child, pid) => printer.note(`${child.name}: started (pid ${pid})`),
    ready: (child, readiness, afterMs) => {
      topology.learn(child.name, readiness);
      printer.note(`${child.name}: ready in ${(afterMs / 1000).toFixed(1)} s`);
    },
    exited: (child, code, signal, restartInMs) => {
      const how = signal ? `killed by ${signal}` : `exited with status ${code}`;
      if (stopping || (code === 0 && child.spec.mayFinish)) printer.note(`${child.name}: ${how}`);
      else if (restartInMs !== undefined) printer.note(`${child.name}: ${how}; restarting in ${(restartInMs / 1000).toFixed(1)} s (restart ${child.restarts} of at most ${settings.maxRestarts} a minute)`);
      else printer.note(`${child.name}: ${how}; it crashed ${settings.maxRestarts + 1} times within a minute, so it is given up`);
    },
  };

  const children = topology.stages.map((stage) => stage.map((spec) => new SupervisedChild(spec, launcher, new RestartPolicy({ maxRestarts: settings.maxRestarts }), listener)));
  const all = children.flat();
  printer.register(all.map((child) => child.name));

  // Whatever happens to this process, its children go with it.
  const killAll = () => all.forEach((child) => child.kill());
  process.on('exit', killAll);

  let resolveStop: (reason: string) => void = () => undefined;
  const stopRequested = new Promise<string>((resolve) => (resolveStop = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      printer.note(`${signal} again: killing every component now`);
      killAll();
      process.exit(1);
    }
    resolveStop(signal);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, onSignal);

  let status = 0;
  let summaryTimer: NodeJS.Timeout | undefined;
  let durationTimer: NodeJS.Timeout | undefined;
  try {
    const dataDir = resolve(settings.dataDir);
    if (settings.fresh) rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(dataDir, { recursive: true });
    printer.note(
      `starting ${all.length} components: broker, proxy, ref, ${settings.servers} server(s), gateway, ${settings.bots} bot(s); data in ${dataDir}` +
        (settings.durationMs !== undefined ? `; stopping after ${(settings.durationMs / 1000).toFixed(0)} s` : '; Ctrl-C stops everything'),
    );
    // Open mode issues tokens too, and a client may send its token to any server: share the keys in both modes.
    const created = await createKeySetIfMissing(topology.authKeys);
    if (topology.auth === 'password') {
      printer.note(`auth: password mode; the servers share the signing keys in ${topology.authKeys}${created ? ' (made now)' : ''}`);
    } else {
      printer.note(OPEN_WARNING);
    }
    const ignored = topology.overriddenKeys();
    if (ignored.length > 0) printer.note(`ignoring ${ignored.join(', ')} from the config file: \`up\` wires endpoints, ports, ids and data directories itself (see \`correio up --help\`)`);
    if (settings.durationMs !== undefined) durationTimer = setTimeout(() => resolveStop('duration'), settings.durationMs);

    let previous: Sample | undefined;
    const poll = async () => {
      const current = await sample(all);
      if (stopping) return;
      printer.status(renderFigures(figures(previous, current), elapsed()));
      previous = current;
    };
    summaryTimer = setInterval(() => void poll(), settings.summaryIntervalMs);

    for (const [index, stage] of children.entries()) {
      for (const child of stage) child.start();
      const outcome = await Promise.race([
        Promise.all(stage.map((child) => child.whenReady())).then(() => 'ready' as const),
        stopRequested.then(() => 'stop' as const),
        new Promise<'timeout'>((resolve) => setTimeout(resolve, settings.readyTimeoutMs, 'timeout').unref()),
      ]).catch((error: Error) => error);
      if (outcome === 'stop') break;
      if (outcome === 'ready') continue;
      const late = stage.filter((child) => child.state !== 'ready').map((child) => `${child.name} (${child.state})`);
      const problem = outcome === 'timeout' ? `not ready after ${(settings.readyTimeoutMs / 1000).toFixed(0)} s: ${late.join(', ')}` : outcome.message;
      // Bots only make traffic: the topology is still worth running without them.
      if (stage.every((child) => child.spec.mayFinish)) {
        printer.note(`${problem}; the rest keeps running (see its output above)`);
        continue;
      }
      printer.note(`${problem}; stopping, since ${index < children.length - 1 ? 'what comes next depends on it' : 'the topology is incomplete'} (see its output above${outcome === 'timeout' ? '; --ready-timeout gives it longer' : ''})`);
      status = 1;
      resolveStop('startup failed');
      break;
    }

    if (status === 0 && all.every((child) => child.state === 'ready')) {
      printer.note(`all ${all.length} components ready in ${(elapsed() / 1000).toFixed(1)} s`);
      const gateway = all.find((child) => child.spec.program === 'gateway')?.readiness?.fields['url'];
      if (gateway) {
        printer.note(`gateway: ${gateway} (API docs ${gateway}/docs, live events ${gateway.replace(/^http/, 'ws')}/v1/stream, chat in the browser ${gateway}/)`);
        printer.note(dashboardHint(topology, gateway));
      }
      printer.note(loginHint(topology));
    }

    const reason = await stopRequested;
    stopping = true;
    clearInterval(summaryTimer);
    clearTimeout(durationTimer);
    printer.clearStatus();
    printer.note(`${reason === 'duration' ? 'duration reached' : reason}: stopping every component (bots, servers, ref, then broker and proxy)`);
    const stopStartedMs = elapsed();
    for (const stage of [...children].reverse()) {
      const results = await Promise.all(stage.map((child) => child.stop(settings.stopTimeoutMs)));
      results.forEach((result, i) => {
        if (result === 'killed') printer.note(`${stage[i]!.name}: did not stop within ${settings.stopTimeoutMs} ms; killed`);
      });
    }
    const failed = all.filter((child) => child.state === 'failed');
    if (failed.length > 0) status = 1;
    const survivors = all.flatMap((child) => child.pids).filter(isAlive);
    if (survivors.length > 0) {
      printer.note(`processes still alive after stopping: ${survivors.join(', ')}; killing them`);
      for (const pid of survivors) signalQuietly(pid, 'SIGKILL');
    }
    printer.note(
      `stopped ${all.length} components in ${((elapsed() - stopStartedMs) / 1000).toFixed(1)} s (up ${(elapsed() / 1000).toFixed(1)} s)` +
        (failed.length > 0 ? `; given up: ${failed.map((child) => child.name).join(', ')}` : '') +
        `; restarts: ${all.reduce((sum, child) => sum + child.restarts, 0)}`,
    );
    return status;
  } finally {
    clearInterval(summaryTimer);
    clearTimeout(durationTimer);
    for (const signal of signals) process.off(signal, onSignal);
    process.off('exit', killAll);
  }
}

/** Polls the `/health` of every ready component with an HTTP side port. */
async function sample(children: readonly SupervisedChild[]): Promise<Sample> {
  const components = await Promise.all(
    children.map(async (child): Promise<ComponentSample> => {
      const url = child.readiness?.fields['http'];
      const sent = Date.now();
      const health = url ? await readHealth(`${url}/health`) : undefined;
      const polled = { sent, received: Date.now() };
      return { name: child.name, program: child.spec.program, state: child.state, restarts: child.restarts, ...(health ? { health, polled } : {}) };
    }),
  );
  return { at: performance.now(), components };
}

async function readHealth(url: string): Promise<Record<string, unknown> | undefined> {
  try {
    // 503 still carries the JSON body (not ready, draining): read it either way.
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    return (await response.json()) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}

/** What `up --auth open` says at start: loudly, since it is what the cluster must never run as in earnest. */
const OPEN_WARNING =
  'WARNING: auth open: there are no accounts and no passwords; anyone who can reach the broker can act as any user. ' +
  'For demos only: run `correio up` without --auth open for accounts, passwords and tokens';

/** Where the operators' dashboard is, and who may open it. */
function dashboardHint(topology: Topology, gateway: string): string {
  if (topology.auth === 'open') return `dashboard: ${gateway}/dashboard (auth open: no log-in needed)`;
  const operators = topology.operators.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (operators.length === 0) return `dashboard: ${gateway}/dashboard (no operators: set server.operators to open it)`;
  return operators.length === 1
    ? `dashboard: ${gateway}/dashboard (operator: ${operators[0]}; register ${operators[0]} first)`
    : `dashboard: ${gateway}/dashboard (operators: ${operators.join(', ')}; register one of them first)`;
}

/** How to join the chat this topology serves. */
function loginHint(topology: Topology): string {
  const flags = topology.wiring.broker === 'tcp://127.0.0.1:5555' && topology.wiring.subscribers === 'tcp://127.0.0.1:5571' ? '' : ` --broker ${topology.wiring.broker} --proxy-sub ${topology.wiring.subscribers}`;
  return topology.auth === 'password'
    ? `log in: npx correio client --user ana --register${flags} (asks for a new password; next time without --register)`
    : `log in: npx correio client --user ana${flags} (no password: auth open)`;
}
