import { extname, join } from 'node:path';
import { randomInt, sleep, spawnProgram } from '@correio/testing';
import type { PeerPlan, SocketCounts } from './plan.js';

/** What the churn peers reported, summed over every peer (each one's last progress line). */
export interface ChurnCounts {
  opened: number;
  requests: number;
  replies: number;
  served: number;
  published: number;
  received: number;
  malformed: number;
  hostile: number;
  refusedSends: number;
}

/** A churn peer that ended other than by our SIGKILL (a crash of the load generator itself, such as a libzmq abort). */
export interface PeerDeath {
  readonly peer: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

const PEER_MAIN = join(import.meta.dirname, `churnPeer${extname(import.meta.filename)}`);
/** How long a peer may take to start and get its traffic flowing (tsx start-up, CURVE handshakes) on a loaded machine. */
const PEER_START_MS = 60_000;

export const emptyCounts = (): ChurnCounts => ({ opened: 0, requests: 0, replies: 0, served: 0, published: 0, received: 0, malformed: 0, hostile: 0, refusedSends: 0 });

/** `total` sockets of one peer, split between the kinds. */
export function splitSockets(total: number): SocketCounts {
  const share = (fraction: number) => Math.max(1, Math.round(total * fraction));
  return { clients: share(0.4), workers: share(0.15), publishers: share(0.15), subscribers: share(0.2), wrongKey: share(0.05), plaintext: share(0.05) };
}

/**
 * Churn peer processes, one generation after another: each is started, left to send until it
 * reported replies, served requests and received publications, then SIGKILLed after a random 0.3–3 s (cut short at the deadline), and
 * replaced; `run` keeps `slots` of them alive at once. Counts what they reported and every peer that died by itself.
 */
export class ChurnPeers {
  readonly counts = emptyCounts();
  readonly deaths: PeerDeath[] = [];
  started = 0;
  /** Peers SIGKILLed mid-traffic. */
  killed = 0;
  /** Peers SIGKILLed because their traffic of every kind had not flowed within PEER_START_MS (not counted in killed). */
  unanswered = 0;
  #next = 0;
  #running = 0;

  constructor(
    readonly plan: (name: string, seed: number) => PeerPlan,
    readonly random: () => number,
  ) {}

  /**
   * Keeps `slots` peers churning until the time `deadline` (ms since the epoch) once at least
   * `minKilled` of them were killed (a slow machine takes longer, it does not churn less), or until
   * `stop()` says so.
   */
  async run(slots: number, deadline: number, minKilled = 0, stop: () => boolean = () => false): Promise<void> {
    const target = this.killed + minKilled;
    const more = () => !stop() && (Date.now() < deadline || this.killed + this.#running < target);
    await Promise.all(
      Array.from({ length: slots }, async () => {
        while (more()) {
          this.#running++;
          try {
            await this.#generation(deadline);
          } finally {
            this.#running--;
          }
        }
      }),
    );
  }

  /** One peer: started, killed mid-traffic (unless it died first), its last counters added. */
  async #generation(deadline: number): Promise<void> {
    const name = `peer-${++this.#next}`;
    const peer = spawnProgram(name, PEER_MAIN, ['--plan', JSON.stringify(this.plan(name, randomInt(this.random, 1, 2 ** 31)))], { env: { CORREIO_LOG_LEVEL: 'warn' } });
    this.started++;
    let last = emptyCounts();
    peer.onLine((line) => {
      if (line.startsWith('{"event":"progress"')) last = JSON.parse(line) as ChurnCounts;
    });
    let flowing = false;
    try {
      // Mid-traffic: requests answered, requests served by its workers, publications received.
      await peer.waitFor(() => last.replies > 0 && last.served > 0 && last.received > 0, 'its first replies, served requests and publications', PEER_START_MS);
      flowing = true;
      await sleep(Math.min(randomInt(this.random, 300, 3_000), Math.max(0, deadline - Date.now()))); // its sockets open, send and close meanwhile
    } catch {
      // A peer that died by itself is recorded below; one whose traffic never flowed is killed anyway, and counted apart.
    }
    const died = !peer.alive;
    peer.kill('SIGKILL');
    const status = await peer.exited;
    if (died || status.signal !== 'SIGKILL') this.deaths.push({ peer: name, code: status.code, signal: status.signal, stderr: peer.stderr.slice(-2_000) });
    else if (flowing) this.killed++;
    else this.unanswered++;
    for (const key of Object.keys(this.counts) as Array<keyof ChurnCounts>) this.counts[key] += last[key] ?? 0;
  }
}
