// rabbitmq-server (Debian's package) as a child process: its own Erlang port mapper (epmd, also a
// child, on a free port, rather than a system-wide daemon that would outlive the benchmark), a
// private node name, data, cookie and config under a scratch directory, AMQP on a free loopback
// port. Started through the package's script with RUNNING_UNDER_SYSTEMD set, so the script execs
// the Erlang VM and the PID we hold is the server's: SIGTERM to it is RabbitMQ's clean stop.
import { existsSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort, spawnPeer, stopGracefully, type Peer } from '../processes.js';

const CANDIDATES = [process.env['RABBITMQ_SERVER'], '/usr/lib/rabbitmq/bin/rabbitmq-server', '/usr/sbin/rabbitmq-server'].filter((path): path is string => Boolean(path));
const EPMD = process.env['EPMD'] ?? 'epmd';
const START_TIMEOUT_MS = 90_000;

export interface RabbitMq {
  readonly url: string;
  readonly version: string;
  /** The Erlang VM's (the script execs it). */
  readonly pid: number;
  stop(): Promise<void>;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function startEpmd(): Promise<{ port: number; peer: Peer }> {
  const port = await freePort();
  const peer = spawnPeer(EPMD, ['-port', String(port)]);
  const exited = new Promise<void>((resolve) => peer.process.once('exit', () => resolve()));
  // Bounded: 50 looks, 100 ms apart.
  for (let look = 0; look < 50; look++) {
    if (await listening(port)) return { port, peer };
    if (await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 100))])) break;
  }
  await peer.stop();
  throw new Error(`${EPMD} -port ${port} did not listen (apt-get install -y erlang-base, or set EPMD)`);
}

export async function startRabbitMq(dir: string): Promise<RabbitMq> {
  const script = CANDIDATES.find((path) => existsSync(path));
  if (script === undefined) throw new Error(`no rabbitmq-server at ${CANDIDATES.join(' or ')}: apt-get install -y rabbitmq-server, or set RABBITMQ_SERVER`);
  const epmd = await startEpmd();
  const [amqpPort, distPort] = [await freePort(), await freePort()];
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  const env = {
    HOME: dir, // its Erlang cookie
    ERL_EPMD_PORT: String(epmd.port),
    RUNNING_UNDER_SYSTEMD: 'true',
    RABBITMQ_NODENAME: `bench-${randomBytes(4).toString('hex')}@localhost`,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(amqpPort),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_LOGS: '-',
    RABBITMQ_PID_FILE: join(dir, 'rabbitmq.pid'),
    // None of the machine's configuration: these files do not exist (or list no plugin).
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
  };
  const server = spawnPeer(script, [], env);
  const stop = () => stopGracefully([server], 15_000).then(() => stopGracefully([epmd.peer], 2_000));
  try {
    const [started] = await Promise.all([server.line(/Starting RabbitMQ \S+ on Erlang/, START_TIMEOUT_MS), server.line(/Server startup complete/, START_TIMEOUT_MS)]);
    const [, version = '?', erlang = '?'] = /Starting RabbitMQ (\S+) on Erlang (\S+)/.exec(started) ?? [];
    return { url: `amqp://guest:guest@127.0.0.1:${amqpPort}//`, version: `${version} (Erlang ${erlang})`, pid: server.process.pid!, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
