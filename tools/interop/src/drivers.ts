import { join } from 'node:path';
import { spawnCommand, type Child } from '@correio/testing';
import { buildGoPrograms, buildRustPrograms, spawnPython } from './peerPrograms.js';

/** Where a chat driver connects and who it is. */
export interface ChatDriverOptions {
  readonly broker: string;
  /** The proxy's subscriber endpoint; '' for none (requests only). */
  readonly proxy: string;
  readonly user: string;
  /** The broker service of its chat requests: `chat` (default) or `srv.<id>`. */
  readonly service?: string;
  /** Further attempts with the same request id after a time-out. */
  readonly retries?: number;
}

export interface EchoWorkerOptions {
  readonly broker: string;
  /** The microservice: broker service svc.<name>, actions <name>.echo and <name>.add. */
  readonly name: string;
  readonly concurrency: number;
  /** MDP framing of its READY and heartbeats (FRAMES.md §1.12), through CORREIO_MDP_FRAMING. */
  readonly framing?: 'classic' | 'packed';
}

/** The environment that sets a peer's MDP framing. */
function framingEnv(framing: EchoWorkerOptions['framing']): Record<string, string> {
  return framing === undefined ? {} : { CORREIO_MDP_FRAMING: framing };
}

/**
 * Everything the interop tests need to know about one language's peer: how to start its chat
 * driver (the drivers' JSON lines, README.md) and its echo worker. A new language is one more
 * entry of `prepareDrivers`; the tests iterate over them.
 */
export interface PeerDriver {
  readonly language: string;
  /** Starts a chat session speaking the drivers' JSON lines on its stdin and stdout. */
  chat(options: ChatDriverOptions): Child;
  /** Starts an echo worker; it prints a line matching `workerReady` once started. */
  echoWorker(options: EchoWorkerOptions): Child;
  readonly workerReady: RegExp;
  /** Matches the `from` of the worker's replies, for `name`. */
  workerSender(name: string): RegExp;
}

export type DriverLanguage = 'python' | 'go' | 'rust';

const python: PeerDriver = {
  language: 'python',
  chat: ({ broker, proxy, user, service, retries }) =>
    spawnPython(`python ${user}`, 'chat_driver', ['--broker', broker, '--proxy', proxy, '--user', user, ...optional('--service', service), ...optional('--retries', retries)]),
  echoWorker: ({ broker, name, concurrency, framing }) => spawnPython(`python ${name}`, 'echo_worker', ['--broker', broker, '--name', name, '--concurrency', String(concurrency)], framingEnv(framing)),
  workerReady: /"ready": true/,
  workerSender: (name) => new RegExp(`^py-worker-${name}-`),
};

function optional(flag: string, value: string | number | undefined): string[] {
  return value === undefined ? [] : [flag, String(value)];
}

/** Builds the Go and Rust programs (into `binDir` for Go) and returns every language's driver. */
export async function prepareDrivers(binDir: string): Promise<Readonly<Record<DriverLanguage, PeerDriver>>> {
  const [goPrograms, rustPrograms] = await Promise.all([buildGoPrograms(join(binDir, 'go')), buildRustPrograms()]);
  const go: PeerDriver = {
    language: 'go',
    chat: ({ broker, proxy, user, service, retries }) =>
      spawnCommand(`go ${user}`, goPrograms.chat, ['-broker', broker, '-proxy', proxy, '-user', user, ...optional('-service', service), ...optional('-retries', retries)], { stdin: 'pipe' }),
    echoWorker: ({ broker, name, concurrency, framing }) =>
      spawnCommand(`go ${name}`, goPrograms.echo, ['-endpoint', broker, '-name', name, '-concurrency', String(concurrency)], { env: framingEnv(framing) }),
    workerReady: /^ready$/,
    workerSender: () => /^go-worker-/,
  };
  const rust: PeerDriver = {
    language: 'rust',
    chat: ({ broker, proxy, user, service, retries }) =>
      spawnCommand(`rust ${user}`, rustPrograms.chat, ['--broker', broker, '--proxy', proxy, '--user', user, ...optional('--service', service), ...optional('--retries', retries)], { stdin: 'pipe' }),
    echoWorker: ({ broker, name, concurrency, framing }) =>
      spawnCommand(`rust ${name}`, rustPrograms.echo, ['--endpoint', broker, '--name', name, '--concurrency', String(concurrency)], { env: framingEnv(framing) }),
    workerReady: /^ready$/,
    workerSender: (name) => new RegExp(`^rs-worker-${name}-`),
  };
  return { python, go, rust };
}
