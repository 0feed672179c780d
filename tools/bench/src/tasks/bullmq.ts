// BullMQ with Redis as the benchmark runs it: redis-server as a child process (redis.ts), and a
// producer and a worker process (bullmqChild.ts).
import { join } from 'node:path';
import { scratchUnder, tsxArgs } from '../processes.js';
import { spawnChild, type Child } from './child.js';
import { childrenReady, type PeerDefinition, type RunningPeer } from './peer.js';
import { startRedis, type RedisServer } from './redis.js';

const CHILD = join(import.meta.dirname, 'bullmqChild.ts');
const QUEUE = 'bench';

export const bullmq: PeerDefinition = {
  id: 'bullmq',
  label: 'BullMQ + Redis',
  async start(options) {
    const scratch = scratchUnder(options.dataRoot, 'bullmq-tasks-bench-');
    let redis: RedisServer | undefined;
    const children: Child[] = [];
    const stop = async () => {
      await Promise.all(children.map((child) => child.stop()));
      await redis?.stop();
      scratch.remove();
    };
    try {
      options.progress('BullMQ: starting redis-server…');
      redis = await startRedis(scratch.path, options.redisFsync);
      const spawn = (role: 'producer' | 'worker') =>
        spawnChild(`BullMQ ${role}`, process.execPath, tsxArgs(CHILD, ['--role', role, '--port', String(redis!.port), '--queue', QUEUE, '--concurrency', String(options.concurrency)]));
      const producer = spawn('producer');
      const worker = spawn('worker');
      children.push(producer, worker);
      const versions = await childrenReady(producer, worker);
      const running: RunningPeer = {
        name: `BullMQ ${versions.worker ?? '?'} + Redis ${redis.version}`,
        configuration:
          `redis-server ${redis.version} (Debian), appendonly yes, appendfsync ${options.redisFsync}${options.redisFsync === 'always' ? ' (a write is fsynced before its reply)' : ' (fsync once a second: up to a second of acknowledged jobs can be lost)'}, no snapshots; ` +
          `producers: one Queue (its own connection) each, each add awaited; jobs kept after completion (the result stored), 1 attempt; ` +
          `1 worker process, 1 Worker, concurrency ${options.concurrency}`,
        producer,
        worker,
        serverPids: [redis.peer.process.pid!],
        stop,
      };
      return running;
    } catch (error) {
      await stop();
      throw error;
    }
  },
};
