// Celery with RabbitMQ as the benchmark runs it: rabbitmq-server and redis-server (the result
// backend) as child processes, Celery from PyPI in a venv of the benchmark's own
// (tools/bench/.venv-tasks, made on first run, pip using the system's CA bundle), and a producer
// and a worker process (celery_child.py).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchUnder, workspaceRoot } from '../processes.js';
import { spawnChild, type Child } from './child.js';
import { childrenReady, type PeerDefinition, type RunningPeer } from './peer.js';
import { startRabbitMq, type RabbitMq } from './rabbitmq.js';
import { startRedis, type RedisServer } from './redis.js';

export const CELERY_REQUIREMENT = 'celery[redis]==5.7.0';
const VENV = join(workspaceRoot, 'tools', 'bench', '.venv-tasks');
const STAMP = join(VENV, '.requirement');
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const CHILD = join(import.meta.dirname, 'celery_child.py');
const QUEUE = 'bench';
const INSTALL_TIMEOUT_MS = 10 * 60_000;

function run(command: string, args: readonly string[]): void {
  const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: INSTALL_TIMEOUT_MS });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.error?.message ?? result.stderr.trim().split('\n').slice(-5).join('\n')}`);
}

/** The venv's python, with Celery installed (once: a stamp file records the requirement). */
export function celeryPython(progress: (text: string) => void): string {
  const python = join(VENV, 'bin', 'python');
  if (existsSync(python) && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === CELERY_REQUIREMENT) return python;
  progress(`Celery: installing ${CELERY_REQUIREMENT} into ${VENV} (once)…`);
  mkdirSync(VENV, { recursive: true });
  run(process.env['PYTHON'] ?? 'python3', ['-m', 'venv', VENV]);
  run(join(VENV, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', ...(existsSync(CA_BUNDLE) ? ['--cert', CA_BUNDLE] : []), CELERY_REQUIREMENT]);
  writeFileSync(STAMP, CELERY_REQUIREMENT);
  return python;
}

export const celery: PeerDefinition = {
  id: 'celery',
  label: 'Celery + RabbitMQ',
  async start(options) {
    const python = celeryPython(options.progress);
    const scratch = scratchUnder(options.dataRoot, 'celery-tasks-bench-');
    let rabbit: RabbitMq | undefined;
    let redis: RedisServer | undefined;
    const children: Child[] = [];
    const stop = async () => {
      await Promise.all(children.map((child) => child.stop()));
      await Promise.all([rabbit?.stop(), redis?.stop()]);
      scratch.remove();
    };
    try {
      options.progress('Celery: starting rabbitmq-server and redis-server…');
      mkdirSync(join(scratch.path, 'rabbitmq'));
      mkdirSync(join(scratch.path, 'redis'));
      [rabbit, redis] = await Promise.all([startRabbitMq(join(scratch.path, 'rabbitmq')), startRedis(join(scratch.path, 'redis'), options.redisFsync)]);
      const backend = `redis://127.0.0.1:${redis.port}/0`;
      const spawn = (role: 'producer' | 'worker') =>
        spawnChild(`Celery ${role}`, python, ['-u', CHILD, '--role', role, '--broker', rabbit!.url, '--backend', backend, '--queue', QUEUE, '--concurrency', String(options.concurrency), '--max-producers', String(options.maxProducers)]);
      const worker = spawn('worker');
      children.push(worker);
      const producer = spawn('producer');
      children.push(producer);
      const versions = await childrenReady(producer, worker);
      const running: RunningPeer = {
        name: `Celery ${versions.worker ?? '?'} + RabbitMQ ${rabbit.version.split(' ')[0]}`,
        configuration:
          `rabbitmq-server ${rabbit.version} (Debian), one node, a durable classic queue, persistent messages, publisher confirms (a send returns once RabbitMQ has confirmed the message: ` +
          `written to its message store and fsynced); Celery ${versions.worker ?? '?'} (Python ${pythonVersion(python)}), task_acks_late, worker_prefetch_multiplier 1; ` +
          `result backend Redis ${redis.version} (appendonly yes, appendfsync ${options.redisFsync}); ` +
          `producers: one thread each in one process, each with its own pooled connection (its app has no result backend: it never waits for results); ` +
          `1 worker process, --pool threads, concurrency ${options.concurrency}`,
        producer,
        worker,
        serverPids: [rabbit.pid, redis.peer.process.pid!],
        stop,
      };
      return running;
    } catch (error) {
      await stop();
      throw error;
    }
  },
};

function pythonVersion(python: string): string {
  return spawnSync(python, ['-c', 'import platform; print(platform.python_version())'], { encoding: 'utf8' }).stdout.trim();
}
