// Socket lifecycle stress: repeats, in child processes, every way the transport opens, uses and
// closes ZeroMQ sockets, and counts the children that die of a native abort (SIGABRT). With
// --gdb each child runs under gdb, which prints the native backtrace of every thread at the abort.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as zmq from 'zeromq';
import { generateCurveKeyPair, MajordomoBroker, ManagedSocket, RequestClient, Worker, ZapAuthenticator, type CurveClientOptions, type CurveServerOptions, type SocketOptions } from '../src/index.js';

const HELP = `Usage: npm run stress:lifecycle -w @correio/transport -- [options]

Runs socket lifecycle scenarios in child processes until the time or child budget is spent, and
counts children that abort (SIGABRT, e.g. a libzmq assertion). Exits 1 if any child failed.

  --seconds N     total time budget (default 60)
  --children N    at most this many child processes, one after another (default unlimited)
  --rounds N      rounds per child; each round runs every chosen scenario concurrently (default 20)
  --scenarios L   comma-separated subset of: SCENARIO_NAMES (default all);
                  raw-zap-unbind-tcp, raw-zap-unbind-ipc (zeromq.js's async unbind of a ZAP handler
                  with a receive pending) run only when named
  --gdb           run each child under gdb -batch and print the native backtrace on abort
  --stop-on-abort stop at the first abort
  --help          this text`;

type Transport = 'tcp' | 'ipc';
type Mechanism = 'null' | 'curve';

interface Scenario {
  readonly name: string;
  readonly run: (round: number) => Promise<void>;
}

const serverKeys = generateCurveKeyPair();
const clientKeys = generateCurveKeyPair();
const curveServer: CurveServerOptions = { server: true, secretKey: serverKeys.secretKey };
const curveClient: CurveClientOptions = { serverKey: serverKeys.publicKey, ...clientKeys };

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const address = (transport: Transport): string =>
  transport === 'tcp' ? 'tcp://127.0.0.1:*' : `ipc://${join(tmpdir(), `correio-stress-${randomBytes(6).toString('hex')}.sock`)}`;
const collectGarbage = (): void => (globalThis as { gc?: () => void }).gc?.();

/** Echoes every message on a ROUTER until it closes. */
async function echo(router: ManagedSocket): Promise<void> {
  for await (const frames of router) router.trySend(frames);
}

async function routerServer(transport: Transport, mechanism: Mechanism, options: SocketOptions = {}): Promise<{ router: ManagedSocket; endpoint: string; done: Promise<void> }> {
  const router = new ManagedSocket('router', { linger: 0, ...(mechanism === 'curve' ? { curve: curveServer } : {}), ...options });
  const endpoint = await router.bind(address(transport));
  return { router, endpoint, done: echo(router).catch(() => undefined) };
}

/** Dealers connect, send bursts, and close at a random moment, some with sends still pending, some reusing a routing id. */
async function churn(transport: Transport, mechanism: Mechanism): Promise<void> {
  const { router, endpoint, done } = await routerServer(transport, mechanism);
  const sharedId = `client-${randomBytes(3).toString('hex')}`;
  await Promise.all(
    Array.from({ length: 8 }, async (_, index) => {
      for (let generation = 0; generation < 3; generation += 1) {
        const dealer = new ManagedSocket('dealer', {
          linger: pick([0, 0, 50]),
          ...(index === 0 ? { routingId: sharedId } : {}),
          ...(mechanism === 'curve' ? { curve: curveClient } : {}),
          whenSendQueueFull: 'reject',
        });
        dealer.connect(endpoint);
        const received = (async () => {
          for await (const _ of dealer) void _;
        })();
        for (let i = 0; i < 20; i += 1) dealer.trySend([Buffer.from(`m${i}`)]);
        await sleep(Math.random() * 15);
        await dealer.close(pick([{}, { flushTimeout: 5 }]));
        await received;
      }
    }),
  );
  await router.close();
  await done;
}

/** The mechanism mismatches: NULL against CURVE both ways, and CURVE with the wrong server key. */
async function mismatch(transport: Transport, withZap: boolean): Promise<void> {
  const context = withZap ? new zmq.Context() : undefined;
  const zap = context ? await ZapAuthenticator.start({ allow: [clientKeys.publicKey], context }) : undefined;
  const curve = await routerServer(transport, 'curve', context ? { context } : {});
  const plain = await routerServer(transport, 'null', context ? { context } : {});
  const wrongKey: CurveClientOptions = { ...curveClient, serverKey: generateCurveKeyPair().publicKey };
  const clients = [
    new ManagedSocket('dealer', { linger: 0, ...(context ? { context } : {}) }),
    new ManagedSocket('dealer', { linger: 0, curve: wrongKey, ...(context ? { context } : {}) }),
    new ManagedSocket('dealer', { linger: 0, curve: curveClient, ...(context ? { context } : {}) }),
    new ManagedSocket('dealer', { linger: 0, curve: curveClient, ...(context ? { context } : {}) }),
  ];
  clients[0]!.connect(curve.endpoint);
  clients[1]!.connect(curve.endpoint);
  clients[2]!.connect(plain.endpoint);
  clients[3]!.connect(curve.endpoint);
  for (const client of clients) client.trySend([Buffer.from('hello')]);
  await sleep(Math.random() * 60);
  const sockets = [...clients, curve.router, plain.router].sort(() => Math.random() - 0.5);
  for (const socket of sockets) await socket.close();
  await Promise.all([curve.done, plain.done]);
  await zap?.close();
}

/** Pending sends to an endpoint nobody listens on, then close (RequestClient's failure tests). */
async function unreachable(): Promise<void> {
  const client = new RequestClient({ endpoint: 'tcp://127.0.0.1:1', timeout: 50, maxInFlight: 4 });
  const requests = Array.from({ length: 4 }, () => client.request('echo', 'service.call.request', { action: 'x.y', params: {} }).catch(() => undefined));
  await sleep(Math.random() * 30);
  await client.close();
  await Promise.all(requests);
}

/** The real broker, a worker and clients that come and go, NULL or CURVE. */
async function mdp(transport: Transport, mechanism: Mechanism): Promise<void> {
  const broker = new MajordomoBroker({ endpoints: [address(transport)], heartbeatIntervalMs: 100, ...(mechanism === 'curve' ? { curve: curveServer } : {}) });
  await broker.start();
  const endpoint = broker.endpoints[0]!;
  const curve = mechanism === 'curve' ? { curve: curveClient } : {};
  const worker = new Worker({ endpoint, service: 'echo', handler: () => ({ result: {} }), heartbeatInterval: 100, ...curve }).start();
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      const client = new RequestClient({ endpoint, timeout: 300, ...curve });
      const requests = Array.from({ length: 5 }, () => client.request('echo', 'service.call.request', { action: 'x.y', params: {} }).catch(() => undefined));
      await sleep(Math.random() * 40);
      await client.close();
      await Promise.all(requests);
    }),
  );
  await worker.stop({ drainTimeout: 0 });
  await broker.close();
}

/** Many sockets in a private context, closed in random order, the context left to the garbage collector. */
async function context(transport: Transport): Promise<void> {
  const own = new zmq.Context();
  const router = new zmq.Router({ context: own, linger: 0 });
  await router.bind(address(transport));
  const endpoint = router.lastEndpoint!;
  const dealers = Array.from({ length: 10 }, () => new zmq.Dealer({ context: own, linger: pick([0, 100]), sendTimeout: 0 }));
  for (const dealer of dealers) {
    dealer.connect(endpoint);
    dealer.send('hello').catch(() => undefined);
  }
  await sleep(Math.random() * 20);
  for (const socket of [...dealers, router].sort(() => Math.random() - 0.5)) socket.close();
}

/** Sockets never closed: connected, sending, observed, then dropped for the garbage collector. */
async function garbage(transport: Transport): Promise<void> {
  const { router, endpoint, done } = await routerServer(transport, 'null');
  for (let i = 0; i < 6; i += 1) {
    const dealer = new zmq.Dealer({ linger: 0, sendTimeout: 0 });
    if (i % 2 === 0) void dealer.events;
    dealer.connect(endpoint);
    dealer.send('hello').catch(() => undefined);
  }
  await sleep(Math.random() * 20);
  collectGarbage();
  await router.close();
  await done;
}

/** Monitor iterators left by break, observers closed before their socket, sockets closed under an open iterator. */
async function monitors(transport: Transport): Promise<void> {
  const { router, endpoint, done } = await routerServer(transport, 'null');
  await Promise.all(
    Array.from({ length: 4 }, async (_, index) => {
      const dealer = new zmq.Dealer({ linger: 0, sendTimeout: 0 });
      const events = dealer.events;
      const watched = (async () => {
        for await (const event of events) if (index === 0 && event.type === 'handshake') break;
      })().catch(() => undefined);
      dealer.connect(endpoint);
      dealer.send('hello').catch(() => undefined);
      await sleep(Math.random() * 20);
      if (index === 1) events.close();
      dealer.close();
      // libzmq closes its monitor socket with linger 0, so MONITOR_STOPPED can be lost and the iterator never end.
      await Promise.race([watched, sleep(100)]);
      events.close();
    }),
  );
  await router.close();
  await done;
}

/**
 * The pattern behind the pipe.cpp:355 abort, with zeromq.js used directly, as ZapAuthenticator
 * used it: a ZAP handler ROUTER with a receive pending (so the binding's poller calls into it from
 * the main thread whenever its mailbox signals) is unbound with zeromq.js's asynchronous unbind,
 * which runs libzmq on a libuv thread-pool thread. Unbinding the inproc endpoint terminates the
 * pipes to the CURVE sessions, which live in libzmq's I/O thread and acknowledge at once; the
 * acknowledgement can be processed on the main thread before the pool thread has recorded that it
 * asked (pipe_t::terminate sends, then sets its state). Not in `all`: it aborts by design.
 */
async function rawZapUnbind(transport: Transport): Promise<void> {
  const context = new zmq.Context();
  const zap = new zmq.Router({ context, linger: 0 });
  zap.bindSync('inproc://zeromq.zap.01');
  const answering = (async () => {
    for await (const [peer, , version, requestId] of zap) await zap.send([peer!, '', version!, requestId!, '200', 'OK', '', '']);
  })().catch(() => undefined);
  const server = new zmq.Router({ context, linger: 0, curveServer: true, curveSecretKey: serverKeys.secretKey });
  server.bindSync(address(transport));
  const clients = Array.from({ length: 8 }, () => new zmq.Dealer({ context, linger: 0, sendTimeout: 0, curveServerKey: serverKeys.publicKey, curvePublicKey: clientKeys.publicKey, curveSecretKey: clientKeys.secretKey }));
  for (const client of clients) {
    client.connect(server.lastEndpoint!);
    client.send('hello').catch(() => undefined);
  }
  await sleep(5 + Math.random() * 20);
  await zap.unbind('inproc://zeromq.zap.01').catch(() => undefined);
  for (const socket of [zap, server, ...clients]) socket.close();
  await answering;
}

function scenarios(): Scenario[] {
  const list: Scenario[] = [];
  for (const transport of ['tcp', 'ipc'] as const) {
    for (const mechanism of ['null', 'curve'] as const) list.push({ name: `churn-${transport}-${mechanism}`, run: () => churn(transport, mechanism) });
    for (const mechanism of ['null', 'curve'] as const) list.push({ name: `mdp-${transport}-${mechanism}`, run: () => mdp(transport, mechanism) });
    list.push({ name: `mismatch-${transport}`, run: () => mismatch(transport, false) });
    list.push({ name: `mismatch-zap-${transport}`, run: () => mismatch(transport, true) });
    list.push({ name: `context-${transport}`, run: () => context(transport) });
    list.push({ name: `gc-${transport}`, run: () => garbage(transport) });
    list.push({ name: `monitors-${transport}`, run: () => monitors(transport) });
  }
  list.push({ name: 'unreachable', run: () => unreachable() });
  return list;
}

/** Scenarios run only when named: they show a hazard of using zeromq.js directly, not of this library. */
const OPT_IN: readonly Scenario[] = (['tcp', 'ipc'] as const).map((transport) => ({ name: `raw-zap-unbind-${transport}`, run: () => rawZapUnbind(transport) }));

async function child(rounds: number, chosen: readonly Scenario[]): Promise<void> {
  // Every scenario at once holds more than libzmq's default 1023 sockets per context.
  zmq.context.maxSockets = 8192;
  const started = performance.now();
  for (let round = 0; round < rounds; round += 1) {
    await Promise.all(chosen.map((scenario) => scenario.run(round).catch((error: unknown) => console.error(`${scenario.name}: ${String(error)}`))));
    collectGarbage();
    if (process.env['STRESS_VERBOSE']) console.error(`round ${round}: ${readdirSync('/proc/self/fd').length} open file descriptors`);
  }
  if (process.env['STRESS_VERBOSE']) console.error(`rounds took ${Math.round(performance.now() - started)} ms`);
  // Exit as a test worker does, with whatever libzmq still holds torn down by the binding's exit hooks.
  process.exit(0);
}

interface Outcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly aborted: boolean;
  readonly hung: boolean;
  readonly output: string;
}

function runChild(args: readonly string[], gdb: boolean, timeoutMs: number): Promise<Outcome> {
  const node = [process.execPath, '--expose-gc', ...process.execArgv, process.argv[1]!, '--child', ...args];
  const [command, ...rest] = gdb
    ? ['gdb', '-q', '-batch', '-ex', 'handle SIGPIPE SIGUSR1 SIGUSR2 nostop noprint pass', '-ex', 'run', '-ex', 'thread apply all bt', '--args', ...node]
    : node;
  return new Promise((resolve) => {
    const process_ = spawn(command!, rest, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-200_000);
    };
    process_.stdout.on('data', keep);
    process_.stderr.on('data', keep);
    process_.on('close', (code, signal) => {
      const aborted = signal === 'SIGABRT' || /Program received signal SIGABRT|Assertion failed/.test(output);
      resolve({ code, signal, aborted, hung: signal === 'SIGKILL', output });
    });
  });
}

async function supervise(options: { seconds: number; children: number; rounds: number; scenarios: string; gdb: boolean; stopOnAbort: boolean }): Promise<number> {
  const deadline = Date.now() + options.seconds * 1000;
  let children = 0;
  let aborts = 0;
  let failures = 0;
  let hung = 0;
  while (Date.now() < deadline && children < options.children) {
    const timeoutMs = Math.max(60_000, options.rounds * 5_000);
    const outcome = await runChild(['--rounds', String(options.rounds), '--scenarios', options.scenarios], options.gdb, timeoutMs);
    children += 1;
    if (outcome.hung && !outcome.aborted) {
      hung += 1;
      console.log(`child ${children}: killed after ${timeoutMs} ms without finishing\n${outcome.output.slice(-2000)}`);
    } else if (outcome.aborted) {
      aborts += 1;
      console.log(`child ${children}: ABORT (${outcome.signal ?? outcome.code})`);
      console.log(outcome.output.split('\n').filter((line) => /Assertion|^#|^Thread|SIGABRT/.test(line)).join('\n'));
      if (options.stopOnAbort) break;
    } else if (outcome.code !== 0) {
      failures += 1;
      console.log(`child ${children}: exit ${outcome.signal ?? outcome.code}\n${outcome.output.slice(-4000)}`);
    } else if (outcome.output.trim()) {
      console.log(`child ${children}: ok, with output:\n${outcome.output.trim().slice(-2000)}`);
    }
  }
  console.log(`lifecycle stress: ${children} children × ${options.rounds} rounds of [${options.scenarios}]: ${aborts} aborted, ${hung} hung, ${failures} other failures`);
  return aborts + hung + failures > 0 ? 1 : 0;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '60' },
      children: { type: 'string', default: String(Number.MAX_SAFE_INTEGER) },
      rounds: { type: 'string', default: '20' },
      scenarios: { type: 'string', default: 'all' },
      gdb: { type: 'boolean', default: false },
      'stop-on-abort': { type: 'boolean', default: false },
      child: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const all = scenarios();
  if (values.help) {
    console.log(HELP.replace('SCENARIO_NAMES', all.map((scenario) => scenario.name).join(', ')));
    return 0;
  }
  const wanted = values.scenarios === 'all' ? undefined : new Set(values.scenarios.split(','));
  const chosen = wanted ? [...all, ...OPT_IN].filter((scenario) => [...wanted].some((name) => scenario.name.startsWith(name))) : all;
  if (chosen.length === 0) throw new Error(`no scenario matches ${values.scenarios}`);
  if (values.child) {
    await child(Number(values.rounds), chosen);
    return 0;
  }
  return supervise({
    seconds: Number(values.seconds),
    children: Number(values.children),
    rounds: Number(values.rounds),
    scenarios: values.scenarios,
    gdb: values.gdb,
    stopOnAbort: values['stop-on-abort'],
  });
}

process.exitCode = await main();
