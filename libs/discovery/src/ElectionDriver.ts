import type { Logger } from '@correio/observability';
import type { ElectionCoordinator, ElectionElectionReply, ElectionElectionRequest } from '@correio/protocol';
import type { Publisher, RequestClient } from '@correio/transport';
import { BullyElection, type BullyElectionOptions, type ElectionOutput, type ElectionPeer, type ElectionState } from './BullyElection.js';
import { monotonicNow } from './monotonicNow.js';
import { ELECTION_TOPIC, serverService } from './names.js';
import { requestIdempotent } from './requestIdempotent.js';

export interface ElectionDriverOptions extends Omit<BullyElectionOptions, 'self' | 'initialTerm'> {
  readonly server: string;
  readonly client: RequestClient;
  readonly publisher: Publisher;
  readonly log: Logger;
  readonly onChange: (state: ElectionState, previous: ElectionState) => void;
}

/**
 * The thin I/O around a BullyElection: feeds it inputs with the monotonic time, sends its
 * `election.election.request`s to `srv.<id>` (one election timeout each, no retries), publishes its
 * announcements on `election/`, and wakes it at `nextTimeout()`. No election logic lives here.
 */
export class ElectionDriver {
  readonly #options: ElectionDriverOptions;
  #machine: BullyElection | undefined;
  #peers: ElectionPeer[] = [];
  /** The most authoritative announcement seen before this server had a rank, to seed the machine. */
  #latest: ElectionCoordinator | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: ElectionDriverOptions) {
    this.#options = options;
  }

  /** The election state now; undefined until the server has a rank. */
  state(): ElectionState | undefined {
    return this.#machine?.state(monotonicNow());
  }

  /** The rank the machine runs with; undefined before join(). */
  get rank(): number | undefined {
    return this.#machine?.self.rank;
  }

  isActing(): boolean {
    return this.#machine?.isActing(monotonicNow()) ?? false;
  }

  /**
   * Takes part with `rank`, renewing the lease from `sentAt` (the registration's send time). A new
   * rank (the reference server lost its data) starts a fresh machine that keeps the terms seen.
   */
  join(rank: number, sentAt: number): void {
    if (this.#stopped) return;
    const machine = this.#machine;
    if (machine !== undefined && machine.self.rank === rank) {
      this.#run((m, now) => m.renewLease(sentAt, now));
      return;
    }
    const initialTerm = Math.max(machine?.state(monotonicNow()).term ?? 0, 0);
    const { server, client: _client, publisher: _publisher, log: _log, onChange: _onChange, ...options } = this.#options;
    const next = new BullyElection({ ...options, self: { server, rank }, initialTerm });
    this.#machine = next;
    this.#run((m, now) => [
      ...m.renewLease(sentAt, now),
      ...m.setPeers(this.#peers, now),
      ...(this.#latest ? m.onAnnouncement(this.#latest, now) : []),
      ...m.start(now),
    ]);
  }

  renewLease(sentAt: number): void {
    this.#run((m, now) => m.renewLease(sentAt, now));
  }

  revokeLease(): void {
    this.#run((m, now) => m.revokeLease(now));
  }

  setPeers(peers: ElectionPeer[]): void {
    this.#peers = peers;
    this.#run((m, now) => m.setPeers(peers, now));
  }

  onAnnouncement(announcement: ElectionCoordinator): void {
    const latest = this.#latest;
    if (latest === undefined || announcement.term > latest.term || (announcement.term === latest.term && announcement.rank > latest.rank)) this.#latest = announcement;
    this.#run((m, now) => m.onAnnouncement(announcement, now));
  }

  /** Answers an election request; undefined before this server has a rank (it cannot answer yet). */
  onRequest(request: ElectionElectionRequest): ElectionElectionReply | undefined {
    const machine = this.#machine;
    if (machine === undefined || this.#stopped) return undefined;
    let reply: ElectionElectionReply | undefined;
    this.#run((m, now) => {
      const result = m.onRequest(request, now);
      reply = result.reply;
      return result.outputs;
    });
    return reply;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const machine = this.#machine;
    this.#machine = undefined;
    // A stopped server coordinates nothing: say so to whoever watches the role.
    if (machine?.isActing(monotonicNow())) {
      const previous = machine.state(monotonicNow());
      this.#options.onChange({ ...previous, role: 'follower', acting: false, coordinator: undefined }, previous);
    }
  }

  #run(step: (machine: BullyElection, now: number) => ElectionOutput[]): void {
    const machine = this.#machine;
    if (machine === undefined || this.#stopped) return;
    for (const output of step(machine, monotonicNow())) this.#perform(machine, output);
    clearTimeout(this.#timer);
    if (this.#machine !== machine) return;
    const now = monotonicNow();
    const next = machine.nextTimeout(now);
    if (next !== undefined) this.#timer = setTimeout(() => this.#run((m, at) => m.tick(at)), Math.max(0, Math.ceil(next - now)));
  }

  #perform(machine: BullyElection, output: ElectionOutput): void {
    const { client, publisher, log, electionTimeoutMs } = this.#options;
    switch (output.kind) {
      case 'ask':
        log.debug({ to: output.to, term: output.term }, 'asking a higher-ranked server');
        requestIdempotent(client, serverService(output.to), 'election.election.request', output.request, { timeout: electionTimeoutMs ?? 1000 })
          .then(
            (reply) => ({ ok: reply.type === 'election.election.reply' && (reply.body as ElectionElectionReply).ok }),
            (error: unknown) => {
              log.debug({ err: error, to: output.to }, 'election request failed');
              return 'failed' as const;
            },
          )
          .then((answer) => {
            if (this.#machine === machine) this.#run((m, now) => m.onAnswer(output.term, output.to, answer, now));
          });
        return;
      case 'announce':
        try {
          publisher.publish(ELECTION_TOPIC, 'election.coordinator', output.announcement);
        } catch (error) {
          log.warn({ err: error }, 'could not publish the coordinator announcement; the next one will repeat it');
        }
        return;
      case 'changed':
        log.info({ role: output.state.role, acting: output.state.acting, term: output.state.term, coordinator: output.state.coordinator?.server }, 'election state changed');
        this.#options.onChange(output.state, output.previous);
        return;
    }
  }
}
