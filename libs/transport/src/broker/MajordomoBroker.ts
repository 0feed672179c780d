import { performance } from 'node:perf_hooks';
import * as zmq from 'zeromq';
// Before any socket: raises the default context's socket limit.
import '../socketLimit.js';
import { OverloadedError, TimeoutError, UnavailableError, UnknownServiceError, type CorreioError } from '@correio/codec';
import { traceWrite } from '@correio/observability';
import { curveSocketOptions } from '../curve.js';
import { readableHead, readableId } from '../envelopeId.js';
import { ErrorReplies } from './ErrorReplies.js';
import { RequestQueue } from './RequestQueue.js';
import { ThrottledWarnings, printable } from './ThrottledWarnings.js';
import { closeWaitByPort, tcpPort } from './stuckConnections.js';
import {
  CLIENT_FINAL,
  CLIENT_HEADER,
  CLIENT_PARTIAL,
  ClientCommand,
  EMPTY,
  HEADER_BYTES,
  MMI_FOUND,
  MMI_NOT_FOUND,
  MMI_NOT_IMPLEMENTED,
  MMI_PREFIX,
  MMI_SERVICE,
  PACKED_DISCONNECT,
  PACKED_HEARTBEAT,
  WORKER_DISCONNECT,
  WORKER_HEADER,
  WORKER_HEARTBEAT,
  WORKER_REQUEST,
  WorkerCommand,
  commandOf,
  isPackedHeader,
  isServiceName,
  packedHeader,
} from './mdp.js';
import {
  resolveBrokerOptions,
  type BrokerDropReason,
  type BrokerLimit,
  type BrokerObserver,
  type MajordomoBrokerOptions,
  type ResolvedBrokerOptions,
  type ServiceDeparture,
  type TransportLogger,
  type WorkerDeparture,
} from './options.js';

/** What the broker warns about at most once per interval each (see ThrottledWarnings). */
type Warning = 'unknown-header' | 'service-limit' | 'worker-limit';

/** A client request the broker holds: queued for its service, or in flight to a worker. */
interface PendingRequest {
  readonly client: Buffer;
  readonly service: Service;
  readonly body: Buffer[];
  /** The client's framing (FRAMES.md §1.12): its replies go in the same. */
  readonly packed: boolean;
  /** performance.now() at arrival, for the latency histogram. */
  readonly receivedAt: number;
  /** performance.now() after which a queued request is answered with an error: arrival (or re-dispatch) + the deadline. */
  deadline: number;
  redispatched: boolean;
  partialSent: boolean;
}

/** One worker connection (FRAMES.md §1.7: one connection serves one request at a time). */
interface Worker {
  readonly identity: Buffer;
  readonly key: string;
  readonly service: Service;
  /** Framed as its READY was (FRAMES.md §1.12): so are its REQUESTs, HEARTBEATs and DISCONNECT. */
  readonly packed: boolean;
  expiresAt: number;
  lastSentAt: number;
  current: PendingRequest | undefined;
}

class Service {
  readonly nameFrame: Buffer;
  readonly packedFinal: Buffer;
  readonly packedPartial: Buffer;
  readonly workers = new Set<Worker>();
  /** Idle workers; a Set keeps insertion order, so its first entry is the least recently used. */
  readonly idle = new Set<Worker>();
  readonly queue = new RequestQueue<PendingRequest>();
  /** True once any worker has sent READY for this service since the broker started. */
  registered = false;
  /** performance.now() when its last worker left (or it was created without one). */
  workerlessSince = 0;

  constructor(
    readonly name: string,
    readonly idempotent: boolean,
  ) {
    this.nameFrame = Buffer.from(name, 'latin1');
    this.packedFinal = packedHeader(CLIENT_HEADER, ClientCommand.FINAL, this.nameFrame);
    this.packedPartial = packedHeader(CLIENT_HEADER, ClientCommand.PARTIAL, this.nameFrame);
  }
}

/** Live numbers for health checks and gauges. */
export interface BrokerSnapshot {
  readonly state: 'created' | 'running' | 'draining' | 'closed';
  readonly workers: number;
  readonly queued: number;
  readonly inFlight: number;
  readonly services: readonly ServiceSnapshot[];
}

export interface ServiceSnapshot {
  readonly name: string;
  readonly workers: number;
  readonly idle: number;
  readonly queued: number;
  readonly inFlight: number;
}

/**
 * A Majordomo broker (MDP/0.2, ZeroMQ RFC 18, with MMI, RFC 8) on one ROUTER socket for clients
 * and workers, as protocol/FRAMES.md §1 specifies: routing by service name, least-recently-used
 * dispatch among idle workers, bounded per-service queues with a deadline, heartbeats in both
 * directions, and the dead-worker policy of §1.8. Bodies stay opaque; the broker decodes one only
 * to answer a request itself with an `error` envelope.
 */
export class MajordomoBroker {
  readonly #options: ResolvedBrokerOptions;
  readonly #bindTo: readonly string[];
  readonly #socket: zmq.Router;
  readonly #errors: ErrorReplies;
  readonly #logger: TransportLogger | undefined;
  readonly #observer: BrokerObserver;
  readonly #warnings: ThrottledWarnings<Warning>;
  // Every peer-keyed collection below is bounded: services by maxServices, workers by maxWorkers
  // (docs/architecture.md, "Peer-keyed state and its bounds").
  readonly #services = new Map<string, Service>();
  readonly #workers = new Map<string, Worker>();
  /** Workers by time of their last command, oldest first: the head is the next to expire. */
  readonly #byLastHeard = new Set<Worker>();
  /** Workers by time of the last command sent to them, oldest first: the head is the next to heartbeat. */
  readonly #byLastSent = new Set<Worker>();
  /** Services with no worker, longest without first: the head is the next to expire or be evicted. */
  readonly #workerless = new Set<Service>();
  /** Services some request is queued for: housekeeping looks at these queues only. */
  readonly #backlogged = new Set<Service>();
  /** Services created for requests during the start-up grace that no worker has registered yet. */
  readonly #unregistered = new Set<Service>();
  readonly #endpoints: string[] = [];
  #state: BrokerSnapshot['state'] = 'created';
  #queued = 0;
  #startedAt = 0;
  #graceOver = false;
  #timer: NodeJS.Timeout | undefined;
  #stuckTimer: NodeJS.Timeout | undefined;
  /** TCP endpoints whose stuck connections were at the bound in the last count. */
  readonly #stuckAtBound = new Set<string>();
  /** Endpoints #rebind unbound and has not bound again yet. */
  readonly #unbound = new Set<string>();
  #countingStuck = false;
  /** The receive the loop waits on. */
  #receiving: Promise<unknown> | undefined;
  /** An endpoint being unbound and bound again: the loop starts no receive until it settles. */
  #rebinding: Promise<void> | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: MajordomoBrokerOptions) {
    if (options.endpoints.length === 0) throw new RangeError('the broker needs at least one endpoint to bind');
    this.#options = resolveBrokerOptions(options);
    this.#bindTo = [...options.endpoints];
    this.#logger = options.logger;
    this.#observer = options.observer ?? {};
    this.#warnings = new ThrottledWarnings(options.logger);
    this.#errors = new ErrorReplies(this.#options.id);
    this.#socket = new zmq.Router({
      maxMessageSize: this.#options.maxMessageSize,
      sendHighWaterMark: this.#options.highWaterMark,
      receiveHighWaterMark: this.#options.highWaterMark,
      // Sends never wait: a ROUTER drops what it cannot queue, and a slow peer must not stall the loop.
      sendTimeout: 0,
      // A receive ends at least this often, so an endpoint can be rebound with none pending (#rebind).
      receiveTimeout: RECEIVE_SLICE_MS,
      // Replies and DISCONNECTs still in the queue at close get a moment to leave.
      linger: 1_000,
      // A peer that reconnects with a routing id still held by its old connection takes it over.
      // Without this libzmq parks the newcomer unserved until the old connection goes.
      handover: true,
      ...(options.curve ? curveSocketOptions(options.curve) : {}),
    });
  }

  /** The broker's id: the `from` of its error envelopes. */
  get id(): string {
    return this.#options.id;
  }

  /** The endpoints actually bound (a `tcp://…:*` request shows its chosen port). */
  get endpoints(): readonly string[] {
    return this.#endpoints;
  }

  /** Binds every endpoint and starts serving. */
  async start(): Promise<void> {
    if (this.#state !== 'created') throw new Error(`broker cannot start: it is ${this.#state}`);
    try {
      for (const endpoint of this.#bindTo) {
        await this.#socket.bind(endpoint);
        this.#endpoints.push(this.#socket.lastEndpoint ?? endpoint);
      }
    } catch (error) {
      this.#socket.close();
      this.#state = 'closed';
      throw error;
    }
    this.#state = 'running';
    this.#startedAt = performance.now();
    const tickMs = Math.min(100, this.#options.heartbeatIntervalMs);
    this.#timer = setInterval(() => this.#housekeeping(), tickMs);
    if (this.#options.maxStuckConnections > 0 && this.#endpoints.some((endpoint) => tcpPort(endpoint) !== undefined)) {
      this.#stuckTimer = setInterval(() => void this.#checkStuckConnections(), this.#options.stuckCheckIntervalMs);
    }
    this.#loop = this.#receiveLoop();
    this.#logger?.info({ endpoints: this.#endpoints, id: this.id }, 'broker listening');
  }

  /**
   * Stops the broker: refuses new requests, answers every queued request UNAVAILABLE, lets
   * in-flight requests finish for up to `graceMs`, answers the rest UNAVAILABLE, tells every worker
   * DISCONNECT (so it reconnects to the next broker), and closes the socket.
   */
  async close(graceMs = 0): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'draining') return this.#loop;
    if (this.#state === 'created') {
      this.#state = 'closed';
      this.#socket.close();
      return;
    }
    this.#state = 'draining';
    clearInterval(this.#stuckTimer);
    this.#logger?.info({ queued: this.#queued, graceMs }, 'broker draining');
    for (const service of this.#services.values()) {
      for (const request of service.queue.drain()) this.#answerError(request, shuttingDown());
    }
    this.#queued = 0;
    const deadline = performance.now() + graceMs;
    while (this.#inFlight() > 0 && performance.now() < deadline) await sleep(Math.min(20, graceMs));
    clearInterval(this.#timer);
    for (const worker of [...this.#workers.values()]) {
      this.#commandWorker(worker, WorkerCommand.DISCONNECT);
      this.#removeWorker(worker, 'shutdown');
    }
    this.#state = 'closed';
    this.#socket.close();
    await this.#loop;
    this.#logger?.info({}, 'broker closed');
  }

  /** Counts for health checks and gauges. */
  snapshot(): BrokerSnapshot {
    const services: ServiceSnapshot[] = [];
    let inFlight = 0;
    for (const service of this.#services.values()) {
      const busy = service.workers.size - service.idle.size;
      inFlight += busy;
      services.push({ name: service.name, workers: service.workers.size, idle: service.idle.size, queued: service.queue.length, inFlight: busy });
    }
    return { state: this.#state, workers: this.#workers.size, queued: this.#queued, inFlight, services };
  }

  async #receiveLoop(): Promise<void> {
    while (this.#state === 'running' || this.#state === 'draining') {
      if (this.#rebinding !== undefined) {
        await this.#rebinding.catch(() => undefined); // #checkStuckConnections reports its failure
        continue;
      }
      let frames: Buffer[];
      try {
        const receiving = this.#socket.receive();
        this.#receiving = receiving;
        frames = await receiving;
      } catch (error) {
        if (this.#socket.closed) return;
        if (errorCode(error) === 'EAGAIN') continue; // RECEIVE_SLICE_MS without a message
        this.#logger?.error({ err: error }, 'broker receive failed');
        await sleep(10);
        continue;
      }
      try {
        this.#onMessage(frames);
      } catch (error) {
        // A bug handling one message must not take the broker down for everyone else.
        this.#logger?.error({ err: error }, 'broker failed to handle a message');
      }
    }
  }

  #onMessage(frames: Buffer[]): void {
    const header = frames[1];
    if (header === undefined) this.#unknownHeader(frames[0]!, header);
    else if (header.length === HEADER_BYTES && header.equals(CLIENT_HEADER)) this.#onClient(frames);
    else if (header.length === HEADER_BYTES && header.equals(WORKER_HEADER)) this.#onWorker(frames);
    else if (isPackedHeader(header, CLIENT_HEADER)) this.#onPackedClient(frames);
    else if (isPackedHeader(header, WORKER_HEADER)) this.#onPackedWorker(frames);
    else this.#unknownHeader(frames[0]!, header);
  }

  /** Neither MDPC02 nor MDPW02: a peer speaking another protocol or dialect. Dropped, counted, and said once in a while. */
  #unknownHeader(peer: Buffer, header: Buffer | undefined): void {
    this.#drop('unknown-header', peer);
    this.#warnings.warn(
      'unknown-header',
      { peer: peer.toString('hex'), peerText: printable(peer), header: printable(header), expected: ['MDPC02', 'MDPW02'] },
      'dropped a message whose protocol header is neither MDPC02 nor MDPW02 (a peer speaking another MDP version or protocol?)',
    );
  }

  // ---- MDP/Client ------------------------------------------------------------------------------

  /**
   * A request's path by its id (central logs: `correio logs --request <id>`). Not the central logs'
   * own traffic (logs.ship, and the servers' logs.copy between them), which would feed on its own lines.
   */
  #logRequest(service: string, envelope: Uint8Array | undefined): void {
    const { id, type } = readableHead(envelope);
    if (!type.startsWith('logs.')) this.#logger?.debug({ rid: id, service, type }, 'request received');
  }

  /** `[client, "MDPC02", 0x01, service, body…]` */
  #onClient(frames: Buffer[]): void {
    const client = frames[0]!;
    const serviceFrame = frames[3];
    if (frames.length < 5 || commandOf(frames[2]) !== ClientCommand.REQUEST || serviceFrame === undefined || !isServiceName(serviceFrame)) {
      this.#drop('malformed-client-command', client);
      return;
    }
    this.#onRequest(client, serviceFrame, frames.slice(4), false);
  }

  /** `[client, "MDPC02" ‖ 0x01 ‖ service, body…]` (FRAMES.md §1.12) */
  #onPackedClient(frames: Buffer[]): void {
    const client = frames[0]!;
    const header = frames[1]!;
    const serviceFrame = header.subarray(HEADER_BYTES + 1);
    if (frames.length < 3 || header[HEADER_BYTES] !== ClientCommand.REQUEST || !isServiceName(serviceFrame)) {
      this.#drop('malformed-client-command', client);
      return;
    }
    this.#onRequest(client, serviceFrame, frames.slice(2), true);
  }

  #onRequest(client: Buffer, serviceFrame: Buffer, body: Buffer[], packed: boolean): void {
    const name = serviceFrame.toString('latin1');
    if (traceWrite) traceRelay('broker.request', body[0], name);
    if (this.#logger?.isLevelEnabled?.('debug') === true) this.#logRequest(name, body[0]);
    this.#observer.requestReceived?.(name);
    if (name.startsWith(MMI_PREFIX)) {
      this.#answerMmi(client, serviceFrame, name, body, packed);
      return;
    }
    const now = performance.now();
    const service = this.#services.get(name);
    if (this.#state !== 'running') {
      this.#answerError(this.#pending(client, service ?? this.#transientService(name), body, now, packed), shuttingDown());
      return;
    }
    if (service === undefined || !service.registered) {
      // Never seen: queue it only while workers may still be reconnecting after a (re)start (§1.5).
      if (now - this.#startedAt >= this.#options.startupGraceMs) {
        this.#answerError(this.#pending(client, service ?? this.#transientService(name), body, now, packed), unknownService(name));
        return;
      }
    }
    const target = service ?? this.#admitService(name);
    if (target === undefined) {
      this.#answerError(this.#pending(client, this.#transientService(name), body, now, packed), this.#refused('services', client, name));
      return;
    }
    this.#dispatchOrQueue(this.#pending(client, target, body, now, packed));
  }

  #pending(client: Buffer, service: Service, body: Buffer[], now: number, packed: boolean): PendingRequest {
    return { client, service, body, packed, receivedAt: now, deadline: now + this.#options.requestDeadlineMs, redispatched: false, partialSent: false };
  }

  #dispatchOrQueue(request: PendingRequest): void {
    const service = request.service;
    const worker = firstOf(service.idle);
    if (worker !== undefined && service.queue.length === 0) {
      this.#dispatch(worker, request);
      return;
    }
    if (service.queue.length >= this.#options.maxQueuePerService) {
      this.#answerError(request, new OverloadedError(`the queue of service ${service.name} is full (${this.#options.maxQueuePerService} requests)`, { data: { service: service.name, limit: this.#options.maxQueuePerService } }));
      return;
    }
    if (this.#queued >= this.#options.maxQueueTotal) {
      this.#answerError(request, new OverloadedError(`the broker's queues are full (${this.#options.maxQueueTotal} requests)`, { data: { service: service.name, limit: this.#options.maxQueueTotal } }));
      return;
    }
    service.queue.push(request);
    this.#queued++;
    this.#backlogged.add(service);
    if (worker !== undefined) this.#drainQueue(service);
  }

  #dispatch(worker: Worker, request: PendingRequest): void {
    worker.service.idle.delete(worker);
    worker.current = request;
    this.#sentTo(worker);
    const frames: Buffer[] = worker.packed
      ? [worker.identity, packedHeader(WORKER_HEADER, WorkerCommand.REQUEST, request.client)]
      : [worker.identity, WORKER_HEADER, WORKER_REQUEST, request.client, EMPTY];
    for (const part of request.body) frames.push(part);
    if (traceWrite) traceRelay('broker.dispatched', request.body[0], request.service.name);
    this.#send(frames);
  }

  /** Hands queued requests to idle workers, oldest request to least recently used worker. */
  #drainQueue(service: Service): void {
    for (let worker = firstOf(service.idle); worker !== undefined && service.queue.length > 0; worker = firstOf(service.idle)) {
      const request = service.queue.shift()!;
      this.#queued--;
      this.#dispatch(worker, request);
    }
  }

  /** MMI (RFC 8; FRAMES.md §1.9): plain string frames, answered at once. */
  #answerMmi(client: Buffer, serviceFrame: Buffer, name: string, body: Buffer[], packed: boolean): void {
    let answer = MMI_NOT_IMPLEMENTED;
    if (name === MMI_SERVICE) {
      const asked = this.#services.get(body[0]!.toString('latin1'));
      answer = asked !== undefined && asked.workers.size > 0 ? MMI_FOUND : MMI_NOT_FOUND;
    }
    this.#send(packed ? [client, packedHeader(CLIENT_HEADER, ClientCommand.FINAL, serviceFrame), answer] : [client, CLIENT_HEADER, CLIENT_FINAL, serviceFrame, answer]);
  }

  // ---- MDP/Worker ------------------------------------------------------------------------------

  /** `[worker, "MDPW02", command, …]` */
  #onWorker(frames: Buffer[]): void {
    const command = commandOf(frames[2]);
    let wellFormed: boolean;
    if (command === WorkerCommand.READY) wellFormed = frames.length === 4;
    else if (command === WorkerCommand.PARTIAL || command === WorkerCommand.FINAL) wellFormed = frames.length >= 6 && frames[4]!.length === 0;
    else wellFormed = frames.length === 3;
    this.#onWorkerCommand(frames[0]!, false, command, frames[2]?.toString('hex'), frames[3], wellFormed, frames.slice(5));
  }

  /** `[worker, "MDPW02" ‖ command ‖ service or client, …]` (FRAMES.md §1.12) */
  #onPackedWorker(frames: Buffer[]): void {
    const header = frames[1]!;
    const command = header[HEADER_BYTES]!;
    const tail = header.length > HEADER_BYTES + 1 ? header.subarray(HEADER_BYTES + 1) : undefined;
    const reply = command === WorkerCommand.PARTIAL || command === WorkerCommand.FINAL;
    const wellFormed = reply ? frames.length >= 3 : frames.length === 2 && (command === WorkerCommand.READY || tail === undefined);
    this.#onWorkerCommand(frames[0]!, true, command, header.toString('hex', HEADER_BYTES, HEADER_BYTES + 1), tail, wellFormed, frames.slice(2));
  }

  /**
   * A worker command in either framing: `named` is its command frame as logs show it, `tail` its
   * service name (READY) or client address (PARTIAL, FINAL), `wellFormed` whether its frames have
   * the command's shape.
   */
  #onWorkerCommand(identity: Buffer, packed: boolean, command: number | undefined, named: string | undefined, tail: Buffer | undefined, wellFormed: boolean, body: Buffer[]): void {
    const key = identity.toString('latin1');
    const worker = this.#workers.get(key);
    if (worker !== undefined && command !== WorkerCommand.DISCONNECT) this.#heardFrom(worker);
    switch (command) {
      case WorkerCommand.READY:
        this.#onReady(identity, key, worker, packed, wellFormed ? tail : undefined);
        return;
      case WorkerCommand.PARTIAL:
      case WorkerCommand.FINAL:
        this.#onReply(identity, worker, packed, wellFormed ? tail : undefined, body, command === WorkerCommand.FINAL);
        return;
      case WorkerCommand.HEARTBEAT:
        if (!wellFormed) this.#violation(identity, worker, packed, 'malformed HEARTBEAT');
        else if (worker === undefined) this.#unknownWorker(identity, packed, 'unknown-worker');
        return;
      case WorkerCommand.DISCONNECT:
        if (worker !== undefined) this.#removeWorker(worker, 'disconnected');
        return;
      default:
        this.#violation(identity, worker, packed, `unknown worker command ${named ?? '(none)'}`);
    }
  }

  /** READY: `serviceFrame` is undefined when the command was malformed. */
  #onReady(identity: Buffer, key: string, worker: Worker | undefined, packed: boolean, serviceFrame: Buffer | undefined): void {
    if (worker !== undefined) {
      this.#violation(identity, worker, packed, 'second READY');
      return;
    }
    if (serviceFrame === undefined || !isServiceName(serviceFrame)) {
      this.#violation(identity, undefined, packed, 'malformed READY');
      return;
    }
    const name = serviceFrame.toString('latin1');
    if (name.startsWith(MMI_PREFIX) || this.#state !== 'running') {
      // RFC 8: the mmi. namespace belongs to the broker. A draining broker takes no new workers.
      this.#violation(identity, undefined, packed, name.startsWith(MMI_PREFIX) ? `READY for reserved service ${name}` : 'READY while shutting down');
      return;
    }
    if (this.#workers.size >= this.#options.maxWorkers) {
      this.#refuseWorker(identity, packed, 'workers', name);
      return;
    }
    const service = this.#services.get(name) ?? this.#admitService(name);
    if (service === undefined) {
      this.#refuseWorker(identity, packed, 'services', name);
      return;
    }
    const fresh: Worker = { identity, key, service, packed, expiresAt: 0, lastSentAt: 0, current: undefined };
    this.#workers.set(key, fresh);
    this.#heardFrom(fresh);
    this.#sentTo(fresh);
    service.workers.add(fresh);
    service.registered = true;
    this.#workerless.delete(service);
    this.#unregistered.delete(service);
    this.#observer.workerReady?.(name);
    this.#logger?.debug({ service: name, worker: identity.toString('hex'), framing: packed ? 'packed' : 'classic' }, 'worker ready');
    this.#becomeIdle(fresh);
  }

  /** PARTIAL or FINAL: `client` is undefined when the command was malformed. */
  #onReply(identity: Buffer, worker: Worker | undefined, packed: boolean, client: Buffer | undefined, body: Buffer[], final: boolean): void {
    if (client === undefined || client.length === 0) {
      this.#violation(identity, worker, packed, `malformed ${final ? 'FINAL' : 'PARTIAL'}`);
      return;
    }
    if (worker === undefined) {
      // Typically a worker that was paused past its liveness and evicted: its reply is late.
      this.#unknownWorker(identity, packed, 'late-reply');
      return;
    }
    const request = worker.current;
    if (request === undefined || !request.client.equals(client)) {
      this.#violation(identity, worker, packed, 'reply for a request it does not hold', 'stray-reply');
      return;
    }
    const service = worker.service;
    if (traceWrite) traceRelay('broker.replied', body[0], service.name);
    this.#replyToClient(request, final, body);
    if (!final) {
      request.partialSent = true;
      this.#observer.replyForwarded?.(service.name, false, undefined);
      return;
    }
    this.#observer.replyForwarded?.(service.name, true, (performance.now() - request.receivedAt) / 1_000);
    worker.current = undefined;
    this.#becomeIdle(worker);
  }

  #becomeIdle(worker: Worker): void {
    const service = worker.service;
    const request = service.queue.shift();
    if (request !== undefined) {
      this.#queued--;
      this.#dispatch(worker, request);
    } else {
      service.idle.add(worker);
    }
  }

  /** A command the protocol does not allow: DISCONNECT the worker and forget it (RFC 18). */
  #violation(identity: Buffer, worker: Worker | undefined, packed: boolean, what: string, reason: BrokerDropReason = 'malformed-worker-command'): void {
    this.#drop(reason, identity);
    this.#logger?.warn({ worker: identity.toString('hex'), service: worker?.service.name, what }, 'worker broke the protocol; disconnecting it');
    this.#disconnect(identity, worker?.packed ?? packed);
    if (worker !== undefined) this.#removeWorker(worker, 'protocol-violation');
  }

  /** A command from a connection that never sent READY (or was forgotten): tell it to start over. */
  #unknownWorker(identity: Buffer, packed: boolean, reason: BrokerDropReason): void {
    this.#drop(reason, identity);
    this.#disconnect(identity, packed);
  }

  /** DISCONNECT to a connection, in the framing it speaks. */
  #disconnect(identity: Buffer, packed: boolean): void {
    this.#send(packed ? [identity, PACKED_DISCONNECT] : [identity, WORKER_HEADER, WORKER_DISCONNECT]);
  }

  #removeWorker(worker: Worker, why: WorkerDeparture): void {
    const service = worker.service;
    this.#workers.delete(worker.key);
    this.#byLastHeard.delete(worker);
    this.#byLastSent.delete(worker);
    service.workers.delete(worker);
    service.idle.delete(worker);
    if (service.workers.size === 0) this.#becameWorkerless(service);
    this.#observer.workerLeft?.(service.name, why);
    this.#logger?.debug({ service: service.name, worker: worker.identity.toString('hex'), why }, 'worker left');
    const request = worker.current;
    worker.current = undefined;
    if (request !== undefined && why !== 'shutdown') this.#orphaned(request);
    else if (request !== undefined) this.#answerError(request, shuttingDown());
  }

  /** The dead-worker policy (FRAMES.md §1.8): re-dispatch once if idempotent, else UNAVAILABLE. */
  #orphaned(request: PendingRequest): void {
    const service = request.service;
    if (this.#state === 'running' && service.idempotent && !request.redispatched && !request.partialSent && service.workers.size > 0) {
      request.redispatched = true;
      request.deadline = performance.now() + this.#options.requestDeadlineMs;
      this.#observer.redispatched?.(service.name);
      const worker = firstOf(service.idle);
      if (worker !== undefined) {
        this.#dispatch(worker, request);
      } else {
        // It has waited longest, so it goes first.
        service.queue.pushRedispatched(request);
        this.#queued++;
        this.#backlogged.add(service);
      }
      return;
    }
    this.#answerError(
      request,
      new UnavailableError(`the worker serving this ${service.name} request died; retry with the same id`, { data: { service: service.name, reason: 'worker-died' } }),
    );
  }

  // ---- housekeeping ----------------------------------------------------------------------------

  /** One line per expiry event: a dead server takes all its workers (one per service and slot) at once. */
  #logExpired(expired: readonly Worker[]): void {
    if (!this.#logger) return;
    if (expired.length === 1) {
      this.#logger.warn({ service: expired[0]!.service.name, worker: expired[0]!.identity.toString('hex') }, 'worker expired');
      return;
    }
    const services: Record<string, number> = {};
    for (const worker of expired) services[worker.service.name] = (services[worker.service.name] ?? 0) + 1;
    this.#logger.warn({ workers: expired.length, services }, `${expired.length} workers expired`);
  }

  /**
   * Runs every tick; its cost follows what is due, not what the broker holds: the ordered sets put
   * the next worker to expire, to heartbeat and the next service to forget at their heads, and
   * only services with queued requests have their queue heads looked at.
   */
  #housekeeping(): void {
    const now = performance.now();
    const silent: Worker[] = [];
    for (const worker of this.#byLastHeard) {
      if (now < worker.expiresAt) break;
      silent.push(worker);
    }
    if (silent.length > 0) this.#logExpired(silent);
    for (const worker of silent) this.#removeWorker(worker, 'expired');
    const due: Worker[] = [];
    for (const worker of this.#byLastSent) {
      if (now - worker.lastSentAt < this.#options.heartbeatIntervalMs) break;
      due.push(worker);
    }
    for (const worker of due) this.#commandWorker(worker, WorkerCommand.HEARTBEAT);
    if (!this.#graceOver && now - this.#startedAt >= this.#options.startupGraceMs) {
      // The grace period ended and no worker ever came: these requests name an unknown service.
      this.#graceOver = true;
      for (const service of this.#unregistered) this.#forget(service, 'never-registered');
    }
    for (const service of this.#workerless) {
      if (now - service.workerlessSince < this.#options.serviceExpiryMs) break;
      this.#forget(service, 'idle');
    }
    for (const service of this.#backlogged) {
      for (const request of service.queue.takeExpired(now)) {
        this.#queued--;
        this.#answerError(request, expired(service, this.#options.requestDeadlineMs));
      }
      if (service.queue.length === 0) this.#backlogged.delete(service);
    }
  }

  // ---- connections libzmq never closes -------------------------------------------------------

  /**
   * Counts each TCP endpoint's stuck connections (see stuckConnections.ts) and rebinds an endpoint
   * found at `maxStuckConnections` twice in a row: libzmq offers no way to close one connection of
   * a ROUTER, but unbinding closes every connection its listener accepted, stuck ones included.
   */
  async #checkStuckConnections(): Promise<void> {
    if (this.#countingStuck || this.#state !== 'running') return;
    this.#countingStuck = true;
    try {
      for (const endpoint of this.#unbound) await this.#withReceivesPaused(() => this.#bindAgain(endpoint));
      const byPort = new Map<number, string>();
      for (const endpoint of this.#endpoints) {
        const port = tcpPort(endpoint);
        if (port !== undefined) byPort.set(port, endpoint);
      }
      const counts = await closeWaitByPort(new Set(byPort.keys()));
      if (counts === undefined) {
        clearInterval(this.#stuckTimer);
        this.#logger?.debug({}, 'no /proc/net/tcp: stuck connections are not counted');
        return;
      }
      for (const [port, endpoint] of byPort) {
        const stuck = counts.get(port) ?? 0;
        // Two counts in a row, so connections caught between their peer leaving and libzmq closing them never add up to a rebind.
        const atBound = stuck >= this.#options.maxStuckConnections;
        const twice = atBound && this.#stuckAtBound.has(endpoint);
        if (atBound && !twice) this.#stuckAtBound.add(endpoint);
        else this.#stuckAtBound.delete(endpoint);
        if (twice && this.#state === 'running') await this.#rebind(endpoint, stuck);
      }
    } catch (error) {
      this.#logger?.error({ err: error }, 'broker could not count or close stuck connections');
    } finally {
      this.#countingStuck = false;
    }
  }

  async #rebind(endpoint: string, stuck: number): Promise<void> {
    this.#logger?.warn(
      { endpoint, stuck, bound: this.#options.maxStuckConnections },
      'broker rebinding an endpoint to close connections libzmq left open after routing-id collisions; its peers reconnect',
    );
    this.#observer.endpointRebound?.(stuck);
    await this.#withReceivesPaused(async () => {
      await this.#socket.unbind(endpoint);
      this.#unbound.add(endpoint);
      // libzmq closes the old listener on its I/O thread, so the port can stay busy for a moment.
      for (let attempt = 0; attempt < REBIND_ATTEMPTS && this.#state === 'running' && this.#unbound.has(endpoint); attempt++) {
        if (attempt > 0) await sleep(REBIND_RETRY_MS);
        await this.#bindAgain(endpoint);
      }
    });
    if (this.#unbound.has(endpoint) && this.#state === 'running') this.#logger?.error({ endpoint }, 'broker could not bind an endpoint again; it tries at every count');
  }

  /**
   * Runs `change` (an unbind or bind) with no receive pending. zeromq.js runs bind and unbind on a
   * thread-pool thread while a pending receive polls the same libzmq socket from the main thread,
   * which can abort the process (docs/architecture.md, "Native aborts"); so the loop starts no
   * receive until `change` settles, and `change` waits for the current one, which ends within
   * RECEIVE_SLICE_MS. Sends meanwhile fail with EBUSY before reaching libzmq (#onSendError).
   */
  async #withReceivesPaused(change: () => Promise<void>): Promise<void> {
    const receiving = this.#receiving;
    const run = async (): Promise<void> => {
      await receiving?.catch(() => undefined);
      await change();
    };
    this.#rebinding = run();
    try {
      await this.#rebinding;
    } finally {
      this.#rebinding = undefined;
    }
  }

  /** Binds an endpoint #rebind unbound; one that stays busy is tried again at every count. */
  async #bindAgain(endpoint: string): Promise<void> {
    try {
      await this.#socket.bind(endpoint);
      this.#unbound.delete(endpoint);
    } catch (error) {
      if (errorCode(error) !== 'EADDRINUSE') throw error;
      this.#logger?.debug({ endpoint }, 'endpoint still busy after unbinding');
    }
  }

  // ---- sending ---------------------------------------------------------------------------------

  #answerError(request: PendingRequest, error: CorreioError): void {
    this.#observer.errorSent?.(request.service.name, error.code);
    let envelope: Uint8Array;
    try {
      envelope = this.#errors.encode(request.body, error);
    } catch (encodeError) {
      this.#logger?.error({ err: encodeError }, 'could not encode an error reply');
      return;
    }
    this.#replyToClient(request, true, [envelope]);
  }

  /** PARTIAL or FINAL to the client of `request`, framed as its request was. */
  #replyToClient(request: PendingRequest, final: boolean, body: readonly (Buffer | Uint8Array)[]): void {
    const service = request.service;
    const frames: (Buffer | Uint8Array)[] = request.packed
      ? [request.client, final ? service.packedFinal : service.packedPartial]
      : [request.client, CLIENT_HEADER, final ? CLIENT_FINAL : CLIENT_PARTIAL, service.nameFrame];
    for (const part of body) frames.push(part);
    this.#send(frames);
  }

  /** HEARTBEAT or DISCONNECT to a worker, framed as its READY was. */
  #commandWorker(worker: Worker, command: typeof WorkerCommand.HEARTBEAT | typeof WorkerCommand.DISCONNECT): void {
    this.#sentTo(worker);
    if (worker.packed) this.#send([worker.identity, command === WorkerCommand.HEARTBEAT ? PACKED_HEARTBEAT : PACKED_DISCONNECT]);
    else this.#send([worker.identity, WORKER_HEADER, command === WorkerCommand.HEARTBEAT ? WORKER_HEARTBEAT : WORKER_DISCONNECT]);
  }

  #send(frames: (Buffer | Uint8Array)[]): void {
    if (this.#socket.closed) return;
    try {
      // sendTimeout 0 makes this synchronous; the promise only reports a failure.
      this.#socket.send(frames).catch(this.#onSendError);
    } catch (error) {
      this.#onSendError(error);
    }
  }

  readonly #onSendError = (error: unknown): void => {
    // EBUSY: an endpoint is being unbound or bound again (#rebind); the message is lost like one to a peer reconnecting.
    if (errorCode(error) === 'EBUSY') this.#logger?.debug({ err: error }, 'broker send refused while rebinding');
    else this.#logger?.warn({ err: error }, 'broker send failed');
  };

  #drop(reason: BrokerDropReason, peer: Buffer | undefined): void {
    this.#observer.dropped?.(reason);
    this.#logger?.debug({ reason, peer: peer?.toString('hex') }, 'message dropped');
  }

  // ---- bounded state -------------------------------------------------------------------------

  /** A worker spoke: it lives another `interval × liveness`, and moves to the back of the expiry order. */
  #heardFrom(worker: Worker): void {
    worker.expiresAt = performance.now() + this.#options.heartbeatIntervalMs * this.#options.liveness;
    this.#byLastHeard.delete(worker);
    this.#byLastHeard.add(worker);
  }

  /** Something went to a worker: its next heartbeat is an interval away. */
  #sentTo(worker: Worker): void {
    worker.lastSentAt = performance.now();
    this.#byLastSent.delete(worker);
    this.#byLastSent.add(worker);
  }

  #becameWorkerless(service: Service): void {
    service.workerlessSince = performance.now();
    this.#workerless.add(service);
  }

  /**
   * A new service entry, within `maxServices`: at the bound the service that has had no worker
   * for longest gives its place; undefined when every tracked service has a worker.
   */
  #admitService(name: string): Service | undefined {
    if (this.#services.size >= this.#options.maxServices) {
      const oldest = firstOf(this.#workerless);
      if (oldest === undefined) return undefined;
      this.#forget(oldest, 'evicted');
    }
    const service = new Service(name, this.#options.idempotentServices.has(name));
    this.#services.set(name, service);
    this.#becameWorkerless(service);
    if (!this.#graceOver) this.#unregistered.add(service);
    return service;
  }

  /** Drops a service that has no worker; whatever still waits for it is answered now. */
  #forget(service: Service, why: ServiceDeparture): void {
    for (const request of service.queue.drain()) {
      this.#queued--;
      this.#answerError(request, why === 'never-registered' ? unknownService(service.name) : expired(service, this.#options.requestDeadlineMs));
    }
    this.#services.delete(service.name);
    this.#workerless.delete(service);
    this.#backlogged.delete(service);
    this.#unregistered.delete(service);
    this.#observer.serviceForgotten?.(service.name, why);
    this.#logger?.debug({ service: service.name, why }, 'service forgotten');
  }

  /** A READY over a bound: DISCONNECT, counted and said once in a while. */
  #refuseWorker(identity: Buffer, packed: boolean, limit: BrokerLimit, service: string): void {
    this.#refused(limit, identity, service);
    this.#disconnect(identity, packed);
  }

  /** Counts and reports a refusal at a bound; returns the error a refused request is answered with. */
  #refused(limit: BrokerLimit, peer: Buffer, service: string): CorreioError {
    const bound = limit === 'services' ? this.#options.maxServices : this.#options.maxWorkers;
    this.#observer.refused?.(limit);
    this.#warnings.warn(
      limit === 'services' ? 'service-limit' : 'worker-limit',
      { peer: peer.toString('hex'), peerText: printable(peer), service: printable(Buffer.from(service, 'latin1')), limit: bound },
      limit === 'services'
        ? `refused service ${service}: the broker tracks ${bound} services and every one has a worker`
        : `refused a worker of service ${service}: the broker holds ${bound} worker connections`,
    );
    return new OverloadedError(`the broker tracks its maximum of ${bound} ${limit}`, { data: { service, limit: bound } });
  }

  /** A service object used only to answer one request, never stored (unknown names stay out of the map). */
  #transientService(name: string): Service {
    return new Service(name, false);
  }

  #inFlight(): number {
    let count = 0;
    for (const worker of this.#workers.values()) if (worker.current !== undefined) count++;
    return count;
  }
}

function firstOf<T>(set: Set<T>): T | undefined {
  for (const item of set) return item;
  return undefined;
}

function unknownService(name: string): CorreioError {
  return new UnknownServiceError(`no worker has registered service ${name}`, { data: { service: name } });
}

function shuttingDown(): CorreioError {
  return new UnavailableError('the broker is shutting down; retry with the same id', { data: { reason: 'shutting-down' } });
}

function expired(service: Service, deadlineMs: number): CorreioError {
  return service.workers.size === 0
    ? new UnavailableError(`no worker of service ${service.name} was available within ${deadlineMs} ms`, {
        data: { service: service.name, reason: 'no-worker' },
      })
    : new TimeoutError(`every worker of service ${service.name} stayed busy for ${deadlineMs} ms`, {
        data: { service: service.name, reason: 'queue-deadline' },
      });
}

/** Binding again after an unbind is tried for up to REBIND_ATTEMPTS × REBIND_RETRY_MS (5 s), then at every count. */
const REBIND_ATTEMPTS = 500;
const REBIND_RETRY_MS = 10;

/** How long one receive waits before the loop looks again (an idle broker wakes this often). */
const RECEIVE_SLICE_MS = 250;

function errorCode(error: unknown): string | undefined {
  return (error as { code?: string } | undefined)?.code;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** CORREIO_TRACE_WRITES: the time first, then the envelope's id (the broker otherwise never decodes a body). */
function traceRelay(hop: string, envelope: Uint8Array | undefined, service: string): void {
  const at = performance.now();
  traceWrite?.(hop, readableId(envelope), service, at);
}
