import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { BadRequestError, CorreioError, UnavailableError } from '@correio/codec';
import type { LamportClock, TimeSource } from '@correio/clocks';
import { LabelGuard } from '@correio/observability';
import type { AnyEnvelope, BodyOf, Envelope, MessageType } from '@correio/protocol';
import { jobHandlersOf, TaskWorker, type TaskWorkerOptions } from '@correio/tasks';
import { mdp, Publisher, Subscriber, Worker, type Publication, type RequestContext, type RequestHandler, type SocketOptions } from '@correio/transport';
import { pino, type Logger } from 'pino';
import { ActionTable, type ParentCall } from './ActionTable.js';
import { sleep } from './backoff.js';
import { ClockStamp } from './ClockStamp.js';
import type { ActionContext, CallOptions, EmitReport, EventContext, HandlerContext, ServiceIdentity, TaskContext } from './context.js';
import { AnnounceDiscovery, type AnnounceDiscoveryOptions } from './discovery/AnnounceDiscovery.js';
import type { Discovery, DiscoveryChange, ServiceInstanceInfo, WaitForOptions } from './discovery/Discovery.js';
import { toMillis, type Duration } from './duration.js';
import { EventRouter } from './EventRouter.js';
import { handlersOf } from './handlers.js';
import { HookQueue } from './HookQueue.js';
import { MessageTable } from './MessageTable.js';
import type { BulkheadSnapshot } from './middleware/bulkhead.js';
import type { CircuitSnapshot } from './middleware/circuitBreaker.js';
import type { DeduplicateOptions } from './middleware/deduplicate.js';
import type { Middleware } from './middleware/Middleware.js';
import { noMetrics, type MetricsRecorder } from './metrics/MetricsRecorder.js';
import { ANNOUNCE_NAMESPACE, assertServiceName, brokerServiceName, eventTopic, assertEventName } from './names.js';
import { ServiceClient, type ServiceClientOptions } from './ServiceClient.js';
import { TaskSupervisor, type TaskStatus } from './TaskSupervisor.js';

/** Distinct topics labelled in `service_event_gaps_total`; gaps on further topics count under `other`. */
export const MAX_GAP_TOPIC_LABELS = 256;

/** A sequence gap on a proxy topic: publications this instance never received. */
export interface GapInfo {
  readonly topic: string;
  readonly publisher: string;
  readonly missed: number;
}

/** Lifecycle hooks. They run one at a time, in the order of the changes they report; onConnect first. */
export interface ServiceHooks {
  /** The instance is registered at the broker and hears the proxy; runs before any other hook. */
  onConnect?(service: Service): unknown;
  /** An instance (this one included) came up. */
  onServiceUp?(info: ServiceInstanceInfo): unknown;
  /** An instance announced `down` or went silent for liveness × interval; or this very instance stopped (`stopped`). */
  onServiceDown?(info: ServiceInstanceInfo, reason: 'announced' | 'expired' | 'stopped'): unknown;
  /** An instance changed the actions or events it serves. */
  onServiceChanged?(info: ServiceInstanceInfo, previous: ServiceInstanceInfo): unknown;
  /** Broadcasts or announcements were lost on the way (a proxy or subscriber queue overflowed). */
  onGap?(gap: GapInfo): unknown;
}

/** Dependencies handed to a custom discovery factory. */
export interface DiscoveryDeps {
  readonly identity: ServiceIdentity;
  readonly client: ServiceClient;
  readonly publisher: Publisher;
  readonly logger: Logger;
}

export interface ServiceOptions {
  /** The service name: the `greeter` of `greeter.hello`. */
  readonly name: string;
  /** Defaults to 1. */
  readonly version?: number;
  /** This instance's id, unique among all instances. Defaults to `<name>-<pid>-<random>`. */
  readonly instance?: string;
  /** `defineService({...})`, or an instance of a class whose methods carry @action, @task, @on or @handles. */
  readonly handlers: object;
  /**
   * The broker services on which the typed message handlers (`messages` / `@handles`) are served,
   * such as `['chat', 'srv.s1']`: `concurrency` worker connections each. Without it they are served
   * on `svc.<name>`, next to the actions.
   */
  readonly serve?: readonly string[];
  /** The broker endpoint, such as `tcp://127.0.0.1:5555`. */
  readonly broker: string;
  /** The proxy: `pub` is where publishers connect (its XSUB), `sub` where subscribers connect (its XPUB). */
  readonly proxy: { readonly pub: string; readonly sub: string };
  /** Actions and emitted events served at once: one MDP worker connection each. Defaults to 4. */
  readonly concurrency?: number;
  /** Per broker service, a `concurrency` of its own (a rarely used service need not hold as many connections). */
  readonly serviceConcurrency?: Readonly<Record<string, number>>;
  /** Default limit of one action invocation. Defaults to 30s. */
  readonly timeout?: Duration;
  /** Middleware around every action (see ActionTable for where it sits in the chain). */
  readonly middleware?: readonly Middleware<ActionContext>[];
  /**
   * Answer a retry (same caller, same request id) with the first attempt's outcome instead of
   * running the action twice, when it reaches the same instance. On by default (60s, 10,000 ids).
   */
  readonly deduplicate?: DeduplicateOptions | false;
  /** Options of the client behind ctx.call and ctx.emit: timeout, retries, backoff, circuitBreaker, middleware. */
  readonly client?: Omit<ServiceClientOptions, 'broker' | 'stamp' | 'logger' | 'metrics' | 'id' | 'socket'>;
  /** Announce-based discovery settings, or a factory for another Discovery (such as a reference server's). */
  readonly discovery?: AnnounceDiscoveryOptions | ((deps: DiscoveryDeps) => Discovery);
  readonly hooks?: ServiceHooks;
  /**
   * The task worker of the @job methods (from @correio/tasks): concurrency, prefetch, rate limits
   * per task, poll time. It runs while the service does, when the handlers have @job methods.
   */
  readonly jobs?: Pick<TaskWorkerOptions, 'concurrency' | 'prefetch' | 'rateLimits' | 'pollMs' | 'auth'>;
  /** Quiet (silent) unless given. */
  readonly logger?: Logger;
  readonly metrics?: MetricsRecorder;
  /** How long stop() lets in-flight actions finish. Defaults to 5s. */
  readonly drainTimeout?: Duration;
  /** How long stop() waits for each cancelled task to return. Defaults to 2s. */
  readonly taskStopTimeout?: Duration;
  /** How long start() waits for the broker and proxy. Defaults to 30s. */
  readonly startTimeout?: Duration;
  /** MDP heartbeating with the broker (FRAMES.md §1.6); must match the broker's. Defaults to 2500ms × 3. */
  readonly heartbeat?: { readonly interval?: Duration; readonly liveness?: number };
  /** Socket options for every socket, such as CURVE keys. */
  readonly socket?: SocketOptions;
  /** The physical clock for envelope `ts` (such as a SynchronizedTime); defaults to the system clock. */
  readonly time?: TimeSource;
  /**
   * The instance's Lamport clock, which stamps every envelope it sends and merges every one it
   * receives. Pass one to share it with the application (a server stamping its operations) or to
   * resume it after a restart; defaults to a fresh clock.
   */
  readonly clock?: LamportClock;
}

export type ServiceState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

export interface ServiceHealth {
  readonly service: string;
  readonly version: number;
  readonly instance: string;
  readonly state: ServiceState;
  /** Ms since start() finished; 0 before. */
  readonly uptime: number;
  /** Actions and emitted events being served now. */
  readonly inFlight: number;
  /** This instance's Lamport clock. */
  readonly lc: number;
  readonly actions: readonly string[];
  readonly events: readonly string[];
  /** Protocol request types served by typed handlers. */
  readonly messages: readonly string[];
  /** The broker services this instance has workers for. */
  readonly serving: readonly string[];
  readonly tasks: Readonly<Record<string, TaskStatus>>;
  /** Every live instance discovery knows, this one included. */
  readonly peers: readonly ServiceInstanceInfo[];
  /** The circuits of the client behind ctx.call. */
  readonly circuits: Readonly<Record<string, CircuitSnapshot>>;
  readonly bulkheads: Readonly<Record<string, BulkheadSnapshot>>;
  /** Publications lost on proxy topics so far. */
  readonly missedPublications: number;
}

/**
 * One running instance of a Correio microservice: its actions are served as MDP workers of
 * `svc.<name>` through the broker, its typed protocol message handlers on the broker services it is
 * told to `serve` (or `svc.<name>`), its events arrive through the broker (emit: one instance per
 * group) and the proxy (broadcast: every instance), its tasks run under supervision, and it
 * announces itself so peers can find it. Create with createService(); start(); stop().
 */
export class Service {
  readonly identity: ServiceIdentity;
  readonly #options: ServiceOptions;
  readonly #log: Logger;
  readonly #metrics: MetricsRecorder;
  readonly #stamp: ClockStamp;
  readonly #actions: ActionTable;
  readonly #messages: MessageTable;
  readonly #events: EventRouter;
  /** Broker services served: svc.<name> (actions, events; messages too unless `serve` says where) and the `serve` list. */
  readonly #serving: readonly string[];
  readonly #tasks = new Map<string, TaskSupervisor>();
  readonly #hooks: HookQueue;
  readonly #stopController = new AbortController();
  #client: ServiceClient | undefined;
  #publisher: Publisher | undefined;
  #subscriber: Subscriber | undefined;
  readonly #workers: Worker[] = [];
  #jobWorker: TaskWorker | undefined;
  /** Broker services served from startServing until stopServing. */
  readonly #dynamic = new Map<string, Worker>();
  #discovery: Discovery | undefined;
  #unsubscribeDiscovery: (() => void) | undefined;
  #receiving: Promise<void> | undefined;
  #state: ServiceState = 'created';
  #startedAt = 0;
  #inFlight = 0;
  #missed = 0;
  /** Any publisher chooses the topics under a subscribed prefix: past the bound, gaps are counted under `other`. */
  readonly #gapTopics = new LabelGuard(MAX_GAP_TOPIC_LABELS);
  #openGate: ((connected: boolean) => void) | undefined;
  #starting: Promise<unknown> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: ServiceOptions) {
    assertServiceName(options.name);
    const version = options.version ?? 1;
    if (!Number.isSafeInteger(version) || version < 0) throw new RangeError('version must be a non-negative integer');
    const instance = options.instance ?? `${options.name}-${process.pid}-${randomBytes(3).toString('hex')}`;
    if (!/^[\x21-\x7e]{1,128}$/.test(instance)) throw new RangeError(`instance id must be 1–128 printable ASCII characters, got ${JSON.stringify(instance)}`);
    this.identity = Object.freeze({ name: options.name, version, instance });
    this.#options = options;
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({ service: options.name, instance });
    this.#metrics = options.metrics ?? noMetrics;
    this.#stamp = new ClockStamp(instance, { ...(options.time ? { time: options.time } : {}), ...(options.clock ? { clock: options.clock } : {}) });
    this.#hooks = new HookQueue(this.#log);
    // Every call made outside a handler listens to the stop signal until it ends: any number may be in flight.
    setMaxListeners(0, this.#stopController.signal);
    const handlers = handlersOf(options.handlers);
    this.#actions = new ActionTable({
      service: options.name,
      actions: handlers.actions,
      timeoutMs: toMillis(options.timeout ?? 30_000, 'timeout'),
      middleware: options.middleware ?? [],
      logger: this.#log,
      metrics: this.#metrics,
      deduplicate: options.deduplicate ?? {},
    });
    this.#messages = new MessageTable({
      service: options.name,
      messages: handlers.messages ?? {},
      timeoutMs: toMillis(options.timeout ?? 30_000, 'timeout'),
      middleware: options.middleware ?? [],
      logger: this.#log,
      metrics: this.#metrics,
      deduplicate: options.deduplicate ?? {},
    });
    this.#serving = servedBrokerServices(options.name, options.serve, {
      actions: this.#actions.names.length > 0 || handlers.events && Object.keys(handlers.events).length > 0,
      messages: this.#messages.types.length > 0,
    });
    this.#events = new EventRouter({ service: options.name, instance, events: handlers.events, logger: this.#log, metrics: this.#metrics });
    for (const [name, definition] of Object.entries(handlers.tasks)) {
      this.#tasks.set(
        name,
        new TaskSupervisor({
          name,
          definition,
          logger: this.#log,
          context: (signal, run): TaskContext => ({ ...this.#handlerContext(signal, undefined), task: name, run }),
          onRestart: () => this.#metrics.increment('service_task_restarts_total', { service: options.name, task: name }),
        }),
      );
    }
  }

  get state(): ServiceState {
    return this.#state;
  }

  /** Discovery: live instances, subscribers of events, waitFor. Available once started. */
  get discovery(): Discovery {
    if (!this.#discovery) throw new UnavailableError(`service ${this.identity.name} is not started`);
    return this.#discovery;
  }

  /** The client behind ctx.call; available once started. */
  get client(): ServiceClient {
    if (!this.#client) throw new UnavailableError(`service ${this.identity.name} is not started`);
    return this.#client;
  }

  /**
   * Connects, registers the workers of `svc.<name>` at the broker, subscribes to its events and
   * the announcements, announces itself, and starts its tasks. Resolves once the broker lists the
   * service (MMI) and the instance hears its own announcement back through the proxy, so peers can
   * call it and it receives what is published to it. Rejects with UNAVAILABLE after startTimeout.
   */
  start(): Promise<this> {
    if (this.#state !== 'created') return Promise.reject(new Error(`service ${this.identity.name} cannot start: it is ${this.#state}`));
    this.#state = 'starting';
    const starting = this.#start();
    this.#starting = starting.catch(() => undefined);
    return starting;
  }

  async #start(): Promise<this> {
    const options = this.#options;
    const socket = options.socket ?? {};
    const deadline = Date.now() + toMillis(options.startTimeout ?? 30_000, 'startTimeout');
    // The first hook waits until start() has finished and then runs onConnect (unless the start
    // failed): every discovery hook queued meanwhile runs after it.
    const gate = new Promise<boolean>((resolve) => (this.#openGate = resolve));
    this.#hooks.push('onConnect', async () => {
      if (await gate) await this.#options.hooks?.onConnect?.(this);
    });
    try {
      this.#client = new ServiceClient({ ...options.client, socket, broker: options.broker, stamp: this.#stamp, logger: this.#log, metrics: this.#metrics });
      // Publications of one topic queued behind a send leave as one batch (FRAMES.md §3.5): never
      // waiting for one, and under load one message per batch for this process, the proxy and
      // each subscriber (at 200 writers to a channel, the subscriber's CPU fell by ~40 %).
      this.#publisher = new Publisher({ ...socket, stamp: this.#stamp, logger: this.#log, batching: true });
      this.#publisher.connect(options.proxy.pub);
      this.#subscriber = new Subscriber({ ...socket, stamp: this.#stamp, logger: this.#log });
      this.#subscriber.events.on('gap', (gap) => this.#onGap(gap));
      for (const event of this.#events.names) this.#subscriber.subscribe(eventTopic(event));
      this.#discovery = this.#createDiscovery();
      this.#unsubscribeDiscovery = this.#discovery.subscribe((change) => this.#onDiscoveryChange(change));
      // Subscribed after the event topics: ZeroMQ forwards subscriptions in order, so hearing our
      // own announcement proves the event subscriptions reached the proxy too.
      if (this.#discovery instanceof AnnounceDiscovery) for (const prefix of AnnounceDiscovery.topics) this.#subscriber.subscribe(prefix);
      this.#subscriber.connect(options.proxy.sub);
      this.#receiving = this.#receive(this.#subscriber);
      for (const service of this.#serving) this.#workers.push(this.#startWorker(service, socket));
      for (const service of this.#serving) await this.#awaitRegistration(service, deadline);
      const jobs = jobHandlersOf(options.handlers);
      if (jobs.queues.length > 0) {
        this.#jobWorker = new TaskWorker({ ...options.jobs, broker: options.broker, socket, id: this.identity.instance, queues: jobs.queues, handlers: jobs.handlers, logger: this.#log }).start();
      }
      await this.#discovery.start(
        { service: this.identity.name, version: this.identity.version, instance: this.identity.instance, actions: this.#actions.names, events: this.#events.names },
        { timeout: Math.max(0, deadline - Date.now()) },
      );
    } catch (error) {
      this.#log.error({ err: error }, 'start failed');
      this.#state = 'stopping';
      await this.#shutdown();
      this.#state = 'stopped';
      throw error;
    }
    this.#startedAt = Date.now();
    this.#state = 'running';
    this.#openGate?.(true);
    for (const task of this.#tasks.values()) task.start();
    this.#log.info({ actions: this.#actions.names, events: this.#events.names, messages: this.#messages.types, serving: this.#serving, tasks: [...this.#tasks.keys()] }, 'service started');
    return this;
  }

  /**
   * Graceful stop: stops accepting (idle worker connections DISCONNECT, new requests are refused
   * with UNAVAILABLE so callers retry elsewhere), drains in-flight actions for up to drainTimeout
   * (then aborts them), cancels tasks, announces `down`, and closes every socket. Idempotent.
   */
  stop(): Promise<void> {
    if (!this.#stopping && this.#state === 'running') this.#state = 'stopping';
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /** Resolves when every named service has a live instance; rejects with TIMEOUT naming the missing ones. */
  waitFor(services: readonly string[], options?: WaitForOptions): Promise<void> {
    return this.discovery.waitFor(services, options);
  }

  /** Calls an action, as ctx.call does. */
  call<R = unknown>(action: string, params?: unknown, options?: CallOptions): Promise<R> {
    return this.#messaging(this.#stopController.signal, undefined).call<R>(action, params, options);
  }

  /** Emits an event to one instance per subscribing group, as ctx.emit does. */
  emit(event: string, data?: unknown, options?: CallOptions): Promise<EmitReport> {
    return this.#messaging(this.#stopController.signal, undefined).emit(event, data, options);
  }

  /** Broadcasts an event to every subscribed instance, as ctx.broadcast does. */
  broadcast(event: string, data?: unknown, options?: { readonly group?: string }): Promise<void> {
    return this.#messaging(this.#stopController.signal, undefined).broadcast(event, data, options);
  }

  /** Publishes a protocol event envelope on a proxy topic, as ctx.publish does; returns its sequence number. */
  publish<T extends MessageType>(topic: string, type: T, body: BodyOf<T>): number {
    if (!this.#publisher || this.#state === 'stopped') throw new UnavailableError(`service ${this.identity.name} is not running`);
    return this.#publisher.publish(topic, type, body);
  }

  health(): ServiceHealth {
    const tasks: Record<string, TaskStatus> = {};
    for (const [name, task] of this.#tasks) tasks[name] = task.status();
    return {
      service: this.identity.name,
      version: this.identity.version,
      instance: this.identity.instance,
      state: this.#state,
      uptime: this.#state === 'running' ? Date.now() - this.#startedAt : 0,
      inFlight: this.#inFlight,
      lc: this.#stamp.lc,
      actions: this.#actions.names,
      events: this.#events.names,
      messages: this.#messages.types,
      serving: [...this.#serving, ...this.#dynamic.keys()],
      tasks,
      peers: this.#discovery?.instances() ?? [],
      circuits: this.#client?.circuits() ?? {},
      bulkheads: { ...this.#actions.bulkheads(), ...this.#messages.bulkheads() },
      missedPublications: this.#missed,
    };
  }

  async #stop(): Promise<void> {
    if (this.#state === 'created') {
      this.#state = 'stopped';
      return;
    }
    await this.#starting; // start() always ends, by its deadline at the latest, cleaning up after a failure
    if (this.#state === 'stopped') return;
    this.#state = 'stopping';
    this.#log.info('service stopping');
    await this.#shutdown();
    this.#state = 'stopped';
    this.#log.info('service stopped');
  }

  /** Tears down whatever exists, in the order of a graceful stop. Never throws. */
  async #shutdown(): Promise<void> {
    const step = async (what: string, run: () => unknown) => {
      try {
        await run();
      } catch (error) {
        this.#log.warn({ err: error }, `stop: ${what} failed`);
      }
    };
    const drainMs = toMillis(this.#options.drainTimeout ?? 5_000, 'drainTimeout');
    await step('drain requests', () => Promise.all([...this.#workers, ...this.#dynamic.values()].map((worker) => worker.stop({ drainTimeout: drainMs }))));
    // Running jobs get the drain time too; the rest are given back to the queue.
    await step('stop jobs', () => this.#jobWorker?.stop({ graceMs: drainMs }));
    const taskGrace = toMillis(this.#options.taskStopTimeout ?? 2_000, 'taskStopTimeout');
    await step('stop tasks', () => Promise.all([...this.#tasks.values()].map((task) => task.stop(taskGrace))));
    this.#stopController.abort(new UnavailableError(`service ${this.identity.name} is stopping`));
    await step('announce down', () => this.#discovery?.stop());
    await step('drain broadcasts', () => withTimeout(this.#events.idle(), drainMs));
    this.#unsubscribeDiscovery?.();
    this.#openGate?.(false);
    await step('close subscriber', () => this.#subscriber?.close());
    await step('receive loop', () => this.#receiving);
    await step('close publisher', () => this.#publisher?.close());
    await step('close client', () => this.#client?.close());
    await step('hooks', () => withTimeout(this.#hooks.idle(), drainMs));
  }

  #createDiscovery(): Discovery {
    const option = this.#options.discovery;
    if (typeof option === 'function') {
      return option({ identity: this.identity, client: this.#client!, publisher: this.#publisher!, logger: this.#log });
    }
    return new AnnounceDiscovery(option ?? {}, { publisher: this.#publisher!, logger: this.#log });
  }

  /**
   * Serves the message handlers on one more broker service, from now until stopServing: for a
   * service only one instance may serve at a time (the task queue's coordinator). Resolves once the
   * broker lists it.
   */
  async startServing(service: string, options: { readonly concurrency?: number; readonly timeoutMs?: number } = {}): Promise<void> {
    if (this.#state !== 'running') throw new UnavailableError(`service ${this.identity.name} is not running`);
    if (!mdp.isServiceName(service)) throw new RangeError(`startServing: ${JSON.stringify(service)} is not a broker service name`);
    if (this.#serving.includes(service) || this.#dynamic.has(service)) return;
    const worker = this.#startWorker(service, this.#options.socket ?? {}, options.concurrency);
    this.#dynamic.set(service, worker);
    await this.#awaitRegistration(service, Date.now() + (options.timeoutMs ?? 10_000));
  }

  /**
   * The handler this instance's broker workers serve `service` with (middleware included), for a
   * socket that takes the same requests without the broker (a server's direct endpoint).
   */
  handlerFor(service: string): RequestHandler {
    return (request, context) => {
      if (this.#state !== 'running') throw new UnavailableError(`service ${this.identity.name} is not running`);
      return this.#serve(request, context, service);
    };
  }

  /** Stops serving a service startServing added: idle connections leave, in-flight requests drain (drainTimeout). */
  async stopServing(service: string): Promise<void> {
    const worker = this.#dynamic.get(service);
    if (worker === undefined) return;
    this.#dynamic.delete(service);
    await worker.stop({ drainTimeout: toMillis(this.#options.drainTimeout ?? 5_000, 'drainTimeout') });
  }

  #startWorker(service: string, socket: SocketOptions, concurrency?: number): Worker {
    const options = this.#options;
    const heartbeat = options.heartbeat ?? {};
    const worker = new Worker({
      ...socket,
      endpoint: options.broker,
      service,
      handler: (request, context) => this.#serve(request, context, service),
      concurrency: concurrency ?? options.serviceConcurrency?.[service] ?? options.concurrency ?? 4,
      ...(heartbeat.interval === undefined ? {} : { heartbeatInterval: toMillis(heartbeat.interval, 'heartbeat.interval') }),
      ...(heartbeat.liveness === undefined ? {} : { liveness: heartbeat.liveness }),
      drainTimeout: toMillis(options.drainTimeout ?? 5_000, 'drainTimeout'),
      stamp: this.#stamp,
      logger: this.#log,
    });
    worker.events.on('replyFailed', () => this.#metrics.increment('service_contained_failures_total', { service: this.identity.name, path: 'reply' }));
    worker.start();
    return worker;
  }

  /** Polls the broker's MMI until it lists `service`: our READY has arrived. */
  async #awaitRegistration(service: string, deadline: number): Promise<void> {
    let lastError: unknown;
    for (let attempt = 0; Date.now() < deadline && attempt < 100_000; attempt++) {
      try {
        const [code] = await this.#client!.transport.requestRaw('mmi.service', [service], { timeout: Math.max(1, Math.min(1_000, deadline - Date.now())) });
        if (code?.toString() === '200') return;
        lastError = undefined;
      } catch (error) {
        lastError = error;
      }
      await sleep(Math.min(50 * 2 ** Math.min(attempt, 4), Math.max(0, deadline - Date.now())));
    }
    throw new UnavailableError(`the broker at ${this.#options.broker} did not register ${service} in time`, {
      data: { broker: this.#options.broker, service },
      cause: lastError,
    });
  }

  async #serve(request: AnyEnvelope, context: RequestContext, via: string): Promise<object> {
    this.#inFlight++;
    this.#metrics.set('service_inflight_calls', { service: this.identity.name }, this.#inFlight);
    try {
      const own = via === brokerServiceName(this.identity.name);
      if (own && request.type === 'service.call.request') {
        return await this.#actions.invoke(request, context.signal, (signal, parent) => this.#handlerContext(signal, parent));
      }
      if (own && request.type === 'service.emit.request') {
        return await this.#events.handleEmit(request, this.#handlerContext(context.signal, undefined));
      }
      if (this.#messages.has(request.type) && (!own || this.#options.serve === undefined || this.#options.serve.includes(via) || this.#dynamic.has(via))) {
        return await this.#messages.invoke(request, via, context.signal, (signal) => this.#handlerContext(signal, undefined));
      }
      const served = own ? ['service.call.request', 'service.emit.request', ...(this.#options.serve === undefined ? this.#messages.types : [])] : this.#messages.types;
      throw new BadRequestError(`${via} serves ${served.join(', ') || 'nothing'}, not ${request.type}`, { data: { type: request.type, service: via } });
    } finally {
      this.#inFlight--;
      this.#metrics.set('service_inflight_calls', { service: this.identity.name }, this.#inFlight);
    }
  }

  async #receive(subscriber: Subscriber): Promise<void> {
    try {
      for await (const publication of subscriber) {
        try {
          this.#dispatchPublication(publication);
        } catch (error) {
          // One publication must not end the loop (and with it every event and announcement after it).
          this.#metrics.increment('service_contained_failures_total', { service: this.identity.name, path: 'publication' });
          this.#log.error({ err: error, topic: publication.topic, type: publication.envelope.type }, 'a publication could not be handled');
        }
      }
    } catch (error) {
      if (this.#state !== 'stopping' && this.#state !== 'stopped') this.#log.error({ err: error }, 'subscriber loop failed');
    }
  }

  #dispatchPublication(publication: Publication): void {
    const envelope = publication.envelope;
    if (envelope.type === 'service.event') {
      this.#events.handleBroadcast(envelope, this.#handlerContext(this.#stopController.signal, undefined));
    } else if (envelope.type === 'service.announce' && publication.topic.startsWith(ANNOUNCE_NAMESPACE)) {
      if (this.#discovery instanceof AnnounceDiscovery) this.#discovery.receive(envelope.body);
    } else {
      this.#log.debug({ topic: publication.topic, type: envelope.type }, 'ignored a publication of an unexpected type');
    }
  }

  #onGap(gap: { readonly topic: string; readonly publisher: string; readonly missed: number }): void {
    this.#missed += gap.missed;
    this.#metrics.increment('service_event_gaps_total', { service: this.identity.name, topic: this.#gapTopics.label(gap.topic) }, gap.missed);
    this.#log.warn(gap, 'publications lost on a proxy topic');
    const info: GapInfo = { topic: gap.topic, publisher: gap.publisher, missed: gap.missed };
    this.#hooks.push('onGap', () => this.#options.hooks?.onGap?.(info));
  }

  #onDiscoveryChange(change: DiscoveryChange): void {
    const hooks = this.#options.hooks;
    if (!hooks) return;
    switch (change.kind) {
      case 'up':
        this.#hooks.push('onServiceUp', () => hooks.onServiceUp?.(change.info));
        break;
      case 'down':
        this.#hooks.push('onServiceDown', () => hooks.onServiceDown?.(change.info, change.reason));
        break;
      case 'changed':
        this.#hooks.push('onServiceChanged', () => hooks.onServiceChanged?.(change.info, change.previous));
        break;
    }
  }

  #handlerContext(signal: AbortSignal, parent: ParentCall | undefined): HandlerContext & EventContext {
    return { service: this.identity, log: this.#log, signal, ...this.#messaging(signal, parent) };
  }

  /** call, emit and broadcast for a handler: nested calls inherit its meta, deadline and cancellation. */
  #messaging(signal: AbortSignal, parent: ParentCall | undefined): Pick<HandlerContext, 'call' | 'emit' | 'broadcast' | 'publish'> {
    const callOptions = (options: CallOptions = {}): CallOptions => {
      const remaining = parent?.deadline === undefined ? undefined : Math.max(1, parent.deadline - Date.now());
      const own = options.timeout === undefined ? undefined : toMillis(options.timeout, 'timeout');
      const timeout = remaining === undefined ? own : own === undefined ? remaining : Math.min(own, remaining);
      return {
        ...options,
        ...(timeout === undefined ? {} : { timeout }),
        meta: { ...parent?.meta, ...options.meta },
        signal: options.signal ?? signal,
      };
    };
    return {
      call: <R>(action: string, params?: unknown, options?: CallOptions) => this.client.call(action, params, callOptions(options)) as Promise<R>,
      emit: (event, data, options) => this.#emit(event, data, callOptions(options)),
      broadcast: async (event, data, options) => this.#broadcast(event, data, options?.group),
      publish: (topic, type, body) => this.publish(topic, type, body),
    };
  }

  async #emit(event: string, data: unknown, options: CallOptions): Promise<EmitReport> {
    assertEventName(event);
    const groups = this.discovery.subscribers(event);
    const sender = this.identity.instance;
    const timeout = options.timeout === undefined ? undefined : toMillis(options.timeout, 'timeout');
    const settled = await Promise.allSettled(
      groups.map((group) =>
        this.client.request(brokerServiceName(group), 'service.emit.request', { event, group, sender, ...(data === undefined ? {} : { data }) } as never, {
          ...(timeout === undefined ? {} : { timeout }),
          retries: options.retries ?? this.client.defaults.retries,
          ...(options.signal ? { signal: options.signal } : {}),
        }),
      ),
    );
    const delivered: string[] = [];
    const failed: { group: string; error: Error }[] = [];
    settled.forEach((outcome, index) => {
      const group = groups[index]!;
      if (outcome.status === 'fulfilled') delivered.push(group);
      else {
        const error = CorreioError.from(outcome.reason);
        failed.push({ group, error });
        this.#log.warn({ event, group, code: error.code }, `emit to ${group} failed: ${error.message}`);
      }
    });
    if (groups.length === 0) this.#log.debug({ event }, 'emit: no service handles this event');
    return { event, delivered, failed };
  }

  #broadcast(event: string, data: unknown, group: string | undefined): void {
    assertEventName(event);
    if (!this.#publisher) throw new UnavailableError(`service ${this.identity.name} is not started`);
    const body = { event, sender: this.identity.instance, ...(data === undefined ? {} : { data }), ...(group === undefined ? {} : { group }) };
    this.#publisher.publish(eventTopic(event), 'service.event', body as Envelope<'service.event'>['body']);
  }
}

/**
 * The broker services an instance registers: `svc.<name>` when it has actions or events (or
 * messages and no `serve` list), then each `serve` entry once. A `serve` list without message
 * handlers, or a name that is not an MDP service name, is a mistake caught here rather than on the wire.
 */
function servedBrokerServices(name: string, serve: readonly string[] | undefined, has: { readonly actions: boolean; readonly messages: boolean }): string[] {
  const own = brokerServiceName(name);
  const services: string[] = [];
  if (has.actions || (has.messages && serve === undefined)) services.push(own);
  for (const service of serve ?? []) {
    if (!mdp.isServiceName(service)) throw new RangeError(`serve: ${JSON.stringify(service)} is not a broker service name (1–255 printable ASCII characters)`);
    if (!has.messages) throw new RangeError(`serve: ${service} was given, but the service declares no message handlers (messages / @handles)`);
    if (!services.includes(service)) services.push(service);
  }
  return services;
}

/** Creates a service instance; call start() on it. */
export function createService(options: ServiceOptions): Service {
  return new Service(options);
}

async function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
