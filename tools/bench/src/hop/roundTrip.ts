// One hop between two processes with one message in flight (bench:hop, main.ts): an echo peer in a
// child process (this file, run with --echo) and a client in the caller's process, over loopback TCP
// with node:net (4-byte length prefix) or zeromq.js (DEALER → ROUTER).
import { fork } from 'node:child_process';
import { createConnection, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Dealer, Router } from 'zeromq';
import { threadCpuMs } from '../cpuTime.js';
import { percentile, sortSamples } from '../stats.js';

export type Transport = 'tcp' | 'zeromq';
export const TRANSPORTS: readonly Transport[] = ['tcp', 'zeromq'];

/** The echo side, in the child process: prints its port, echoes until killed. */
async function echo(transport: Transport): Promise<void> {
  if (transport === 'zeromq') {
    const router = new Router({ linger: 0 });
    await router.bind('tcp://127.0.0.1:*');
    process.send!({ port: Number(/:(\d+)$/.exec(router.lastEndpoint!)![1]) });
    for await (const [peer, body] of router) await router.send([peer!, body!]);
    return;
  }
  const server = createServer({ noDelay: true }, (socket) => socket.on('data', (chunk) => socket.write(chunk)));
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
}

/** A client that sends one message and resolves with the echo. */
interface RoundTripper {
  roundTrip(body: Buffer): Promise<void>;
  close(): void;
}

async function tcpClient(port: number): Promise<RoundTripper> {
  const socket: Socket = await new Promise((resolve) => {
    const connected = createConnection({ port, host: '127.0.0.1', noDelay: true }, () => resolve(connected));
  });
  let waiting: { expected: number; got: number; resolve: () => void } | undefined;
  socket.on('data', (chunk) => {
    if (!waiting) return;
    waiting.got += chunk.length;
    if (waiting.got >= waiting.expected) {
      const done = waiting.resolve;
      waiting = undefined;
      done();
    }
  });
  return {
    roundTrip: (body) =>
      new Promise((resolve) => {
        const frame = Buffer.allocUnsafe(4 + body.length);
        frame.writeUInt32BE(body.length, 0);
        body.copy(frame, 4);
        waiting = { expected: frame.length, got: 0, resolve };
        socket.write(frame);
      }),
    close: () => socket.destroy(),
  };
}

async function zeromqClient(port: number): Promise<RoundTripper> {
  const dealer = new Dealer({ linger: 0 });
  dealer.connect(`tcp://127.0.0.1:${port}`);
  return {
    roundTrip: async (body) => {
      await dealer.send(body);
      await dealer.receive();
    },
    close: () => dealer.close(),
  };
}

export interface Row {
  readonly transport: Transport;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly cpu: { readonly client: Map<string, number>; readonly echo: Map<string, number> };
}

/** Runs an echo peer of `transport` in a child process and `roundTrips` timed round trips to it, one in flight. */
export async function measure(transport: Transport, roundTrips: number, warmup: number, bytes: number): Promise<Row> {
  // The child runs this file: from its sources through tsx, or its build.
  const execArgv = import.meta.url.endsWith('.ts') ? ['--import', 'tsx', '--conditions=@correio/source'] : [];
  const child = fork(fileURLToPath(import.meta.url), ['--echo', transport], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (message) => resolve((message as { port: number }).port));
      child.once('exit', (code) => reject(new Error(`the ${transport} echo exited (${code})`)));
    });
    const client = transport === 'tcp' ? await tcpClient(port) : await zeromqClient(port);
    const body = Buffer.alloc(bytes, 7);
    for (let i = 0; i < warmup; i++) await client.roundTrip(body);
    const [clientBefore, echoBefore] = [threadCpuMs(process.pid), threadCpuMs(child.pid!)];
    const samples: number[] = [];
    const started = performance.now();
    for (let i = 0; i < roundTrips; i++) {
      const at = performance.now();
      await client.roundTrip(body);
      samples.push(performance.now() - at);
    }
    const seconds = (performance.now() - started) / 1000;
    const delta = (after: Map<string, number>, before: Map<string, number>) => new Map([...after].map(([thread, ms]) => [thread, (ms - (before.get(thread) ?? 0)) / roundTrips]));
    const cpu = { client: delta(threadCpuMs(process.pid), clientBefore), echo: delta(threadCpuMs(child.pid!), echoBefore) };
    client.close();
    const sorted = sortSamples(samples);
    return { transport, perSecond: roundTrips / seconds, p50: percentile(sorted, 50), p99: percentile(sorted, 99), cpu };
  } finally {
    child.kill('SIGKILL');
  }
}


const echoIndex = process.argv.indexOf('--echo');
if (echoIndex >= 0) await echo(process.argv[echoIndex + 1] as Transport);
