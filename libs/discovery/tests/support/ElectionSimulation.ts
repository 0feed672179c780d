// A deterministic discrete-event simulation of BullyElection machines, a reference server that
// marks silent servers down, and a network with random delays. Time is integer milliseconds.
// Faults: crash (the node is gone for good) and pause (SIGSTOP: the node neither runs nor
// heartbeats; messages for it wait and are processed when it resumes).
import { BullyElection, type ElectionAnswer, type ElectionOutput, type ElectionPeer } from '@correio/discovery';
import { seededRandom } from '@correio/testing';

export interface SimulationConfig {
  readonly ranks: readonly number[];
  readonly seed: number;
  readonly heartbeatMs: number;
  readonly misses: number;
  readonly electionTimeoutMs: number;
  readonly announceIntervalMs: number;
  /** One-way delays are uniform in [minDelay, maxDelay]. */
  readonly minDelay: number;
  readonly maxDelay: number;
  /** Probability that one announcement to one node is lost. */
  readonly dropAnnouncements?: number;
}

interface SimNode {
  readonly id: string;
  readonly rank: number;
  readonly machine: BullyElection;
  readonly view: Map<string, ElectionPeer>;
  crashed: boolean;
  paused: boolean;
  resuming: boolean;
  /** Cut off from the network: it runs, but nothing reaches it or leaves it. */
  isolated: boolean;
  readonly buffered: (() => void)[];
  tickGeneration: number;
  heartbeatGeneration: number;
}

interface Scheduled {
  readonly at: number;
  readonly seq: number;
  readonly run: () => void;
}

export class ElectionSimulation {
  time = 0;
  readonly nodes = new Map<string, SimNode>();
  /** Per ms: the ids of the nodes acting as coordinator (a paused or crashed node cannot act). */
  readonly acting: string[][] = [];
  readonly #config: SimulationConfig;
  readonly #queue: Scheduled[] = [];
  #seq = 0;
  #random: () => number;
  readonly #refLastHeard = new Map<string, number>();
  readonly #refAlive = new Map<string, boolean>();

  constructor(config: SimulationConfig) {
    this.#config = config;
    this.#random = seededRandom(config.seed);
    const lease = config.heartbeatMs * config.misses;
    for (const rank of config.ranks) {
      const id = `n${rank}`;
      const machine = new BullyElection({
        self: { server: id, rank },
        electionTimeoutMs: config.electionTimeoutMs,
        announceIntervalMs: config.announceIntervalMs,
        leaseMs: lease,
      });
      this.nodes.set(id, { id, rank, machine, view: new Map(), crashed: false, paused: false, resuming: false, isolated: false, buffered: [], tickGeneration: 0, heartbeatGeneration: 0 });
      this.#refLastHeard.set(id, 0);
      this.#refAlive.set(id, true);
    }
    for (const node of this.nodes.values()) {
      for (const other of this.nodes.values()) node.view.set(other.id, { server: other.id, rank: other.rank, alive: true });
      // Registration acknowledged at time 0, then the node joins.
      this.#input(node, () => [...node.machine.renewLease(0, 0), ...node.machine.setPeers(node.view.values(), 0), ...node.machine.start(0)]);
      this.#heartbeatLoop(node);
    }
    this.#refLoop();
  }

  crash(id: string, at: number): void {
    this.#at(at, () => {
      this.nodes.get(id)!.crashed = true;
    });
  }

  pause(id: string, from: number, to: number): void {
    const node = this.nodes.get(id)!;
    this.#at(from, () => {
      node.paused = true;
    });
    this.#at(to, () => {
      if (node.crashed) return;
      // It runs again at once, but reads what was queued for it only a moment later: until then it
      // runs on its old state (its timers may fire first), which is exactly when a lease must keep
      // it from acting. Sampling at `to` sees it running.
      node.paused = false;
      node.resuming = true;
      this.#at(to + 1, () => {
        node.resuming = false;
        for (const run of node.buffered.splice(0)) run();
        this.#input(node, () => node.machine.tick(this.time));
        this.#heartbeatLoop(node);
      });
    });
  }

  /** Cuts a node off the network (both ways) from `from` to `to`; it keeps running. */
  isolate(id: string, from: number, to: number): void {
    const node = this.nodes.get(id)!;
    this.#at(from, () => {
      node.isolated = true;
    });
    this.#at(to, () => {
      node.isolated = false;
    });
  }

  /** Runs until `until` ms, sampling who acts at every ms. */
  run(until: number): void {
    while (this.time <= until) {
      while (this.#queue.length > 0 && this.#queue[0]!.at <= this.time) this.#queue.shift()!.run();
      this.acting.push([...this.nodes.values()].filter((node) => !node.crashed && !node.paused && node.machine.isActing(this.time)).map((node) => node.id));
      this.time += 1;
    }
  }

  /** The longest stretch (ms) during which two or more nodes acted at once. */
  longestOverlap(): number {
    let longest = 0;
    let current = 0;
    for (const ids of this.acting) {
      current = ids.length >= 2 ? current + 1 : 0;
      longest = Math.max(longest, current);
    }
    return longest;
  }

  /** The first ms from `from` at which only `id` acts and keeps acting until the end; undefined if never. */
  settledOn(id: string, from: number): number | undefined {
    let since: number | undefined;
    for (let t = from; t < this.acting.length; t++) {
      const ok = this.acting[t]!.length === 1 && this.acting[t]![0] === id;
      if (ok && since === undefined) since = t;
      if (!ok) since = undefined;
    }
    return since;
  }

  /** True when `id` was the only node acting at some ms in [from, to). */
  actedAlone(id: string, from: number, to: number): boolean {
    return this.acting.slice(from, to).some((ids) => ids.length === 1 && ids[0] === id);
  }

  #at(at: number, run: () => void): void {
    const item = { at, seq: this.#seq++, run };
    const index = this.#queue.findIndex((queued) => queued.at > at);
    if (index < 0) this.#queue.push(item);
    else this.#queue.splice(index, 0, item);
  }

  #delay(): number {
    const { minDelay, maxDelay } = this.#config;
    return minDelay + Math.floor(this.#random() * (maxDelay - minDelay + 1));
  }

  /** Delivers `run` to a node: dropped when it crashed, held while it is paused. */
  #deliver(node: SimNode, run: () => void): void {
    if (node.crashed || node.isolated) return;
    if (node.paused || node.resuming) node.buffered.push(run);
    else run();
  }

  /** Runs an input on a node's machine and acts on the outputs. */
  #input(node: SimNode, step: () => ElectionOutput[]): void {
    if (node.crashed) return;
    for (const output of step()) this.#output(node, output);
    const next = node.machine.nextTimeout(this.time);
    const generation = ++node.tickGeneration;
    if (next !== undefined) {
      this.#at(next, () => this.#deliver(node, () => {
        if (generation === node.tickGeneration) this.#input(node, () => node.machine.tick(this.time));
      }));
    }
  }

  #output(node: SimNode, output: ElectionOutput): void {
    if (node.isolated) {
      // Nothing leaves; an ask simply times out.
      if (output.kind === 'ask') this.#at(this.time + this.#config.electionTimeoutMs, () => this.#deliver(node, () => this.#input(node, () => node.machine.onAnswer(output.term, output.to, 'failed', this.time))));
      return;
    }
    if (output.kind === 'announce') {
      for (const target of this.nodes.values()) {
        if (this.#random() < (this.#config.dropAnnouncements ?? 0)) continue;
        this.#at(this.time + this.#delay(), () => this.#deliver(target, () => this.#input(target, () => target.machine.onAnnouncement(output.announcement, this.time))));
      }
    } else if (output.kind === 'ask') {
      const target = this.nodes.get(output.to)!;
      let settled = false;
      const answer = (result: ElectionAnswer) => {
        if (settled) return;
        settled = true;
        this.#deliver(node, () => this.#input(node, () => node.machine.onAnswer(output.term, output.to, result, this.time)));
      };
      // The request times out after one election timeout, as the driver's request does.
      this.#at(this.time + this.#config.electionTimeoutMs, () => answer('failed'));
      this.#at(this.time + this.#delay(), () =>
        this.#deliver(target, () => {
          let reply: { ok: boolean } | undefined;
          this.#input(target, () => {
            const result = target.machine.onRequest(output.request, this.time);
            reply = result.reply;
            return result.outputs;
          });
          this.#at(this.time + this.#delay(), () => answer({ ok: reply!.ok }));
        }),
      );
    }
  }

  /** Each node heartbeats every heartbeatMs while it runs; the acknowledgement renews its lease. */
  #heartbeatLoop(node: SimNode): void {
    const generation = ++node.heartbeatGeneration;
    const beat = () => {
      if (node.crashed || node.paused || generation !== node.heartbeatGeneration) return; // resumption restarts the loop
      const sentAt = this.time;
      if (!node.isolated) this.#at(this.time + this.#delay(), () => {
        this.#refHeard(node.id);
        this.#at(this.time + this.#delay(), () => this.#deliver(node, () => this.#input(node, () => node.machine.renewLease(sentAt, this.time))));
      });
      this.#at(this.time + this.#config.heartbeatMs, beat);
    };
    this.#at(this.time + this.#config.heartbeatMs, beat);
  }

  #refHeard(id: string): void {
    this.#refLastHeard.set(id, this.time);
    if (!this.#refAlive.get(id)) {
      this.#refAlive.set(id, true);
      this.#broadcastMembership(id, true);
    }
  }

  /** The reference server checks liveness four times per heartbeat interval. */
  #refLoop(): void {
    const { heartbeatMs, misses } = this.#config;
    const check = () => {
      for (const [id, last] of this.#refLastHeard) {
        if (this.#refAlive.get(id) && this.time - last > heartbeatMs * misses) {
          this.#refAlive.set(id, false);
          this.#broadcastMembership(id, false);
        }
      }
      this.#at(this.time + Math.max(1, Math.floor(heartbeatMs / 4)), check);
    };
    this.#at(0, check);
  }

  #broadcastMembership(id: string, alive: boolean): void {
    const rank = this.nodes.get(id)!.rank;
    for (const target of this.nodes.values()) {
      this.#at(this.time + this.#delay(), () =>
        this.#deliver(target, () => {
          target.view.set(id, { server: id, rank, alive });
          this.#input(target, () => target.machine.setPeers(target.view.values(), this.time));
        }),
      );
    }
  }
}
