import type { BodyOf } from '@correio/protocol';
import { handles, type MessageContext, type ReplyBody } from '@correio/service';
import type { Authenticator } from '../auth/Authenticator.js';
import { requireServedOn } from '../auth/operatorRequests.js';
import type { TaskQueue } from './TaskQueue.js';
import type { TaskStore } from './TaskStore.js';

export interface TaskHandlersOptions {
  /** This server's id: it serves `srv.<id>`. */
  readonly id: string;
  readonly store: TaskStore;
  readonly queue: TaskQueue;
  readonly auth: Authenticator;
  /** This server's direct endpoint while it serves `tasks` there (revision 1.9): undefined when it has none or does not. */
  readonly directEndpoint?: () => string | undefined;
}

/** The broker service of the task queue (protocol/FRAMES.md §4.3), served by the coordinator only. */
export const TASKS_SERVICE = 'tasks';
const DEFAULT_LIST_LIMIT = 100;

/**
 * The `tasks` service (protocol README, revision 1.6): producers enqueue, wait for and cancel
 * jobs; workers lease, heartbeat and settle them; anyone lists them and replays dead letters. In
 * password mode every request needs a user's access token, as reads do. Between servers, on
 * `srv.<id>` only: `tasks.copy` (the coordinator's changes) and `tasks.list` without a token (a
 * new coordinator's catch-up).
 */
export class TaskHandlers {
  readonly #options: TaskHandlersOptions;

  constructor(options: TaskHandlersOptions) {
    this.#options = options;
  }

  @handles('tasks.enqueue.request')
  async enqueue(ctx: MessageContext<'tasks.enqueue.request'>, body: BodyOf<'tasks.enqueue.request'>): Promise<ReplyBody<'tasks.enqueue.request'>> {
    await this.#client(ctx);
    return this.#options.queue.enqueue(body);
  }

  @handles('tasks.lease.request')
  async lease(ctx: MessageContext<'tasks.lease.request'>, body: BodyOf<'tasks.lease.request'>): Promise<ReplyBody<'tasks.lease.request'>> {
    await this.#client(ctx);
    return { jobs: await this.#options.queue.lease(body.worker, body.queues, body.max ?? 1, body.wait_ms ?? 0, ctx.signal) };
  }

  @handles('tasks.heartbeat.request')
  async heartbeat(ctx: MessageContext<'tasks.heartbeat.request'>, body: BodyOf<'tasks.heartbeat.request'>): Promise<ReplyBody<'tasks.heartbeat.request'>> {
    await this.#client(ctx);
    return this.#options.queue.heartbeat(body.worker, body.leases);
  }

  @handles('tasks.settle.request')
  async settle(ctx: MessageContext<'tasks.settle.request'>, body: BodyOf<'tasks.settle.request'>): Promise<ReplyBody<'tasks.settle.request'>> {
    await this.#client(ctx);
    return this.#options.queue.settle(body);
  }

  @handles('tasks.get.request')
  async get(ctx: MessageContext<'tasks.get.request'>, body: BodyOf<'tasks.get.request'>): Promise<ReplyBody<'tasks.get.request'>> {
    await this.#client(ctx);
    return { job: await this.#options.queue.get(body.id, body.wait_ms ?? 0, ctx.signal) };
  }

  @handles('tasks.cancel.request')
  async cancel(ctx: MessageContext<'tasks.cancel.request'>, body: BodyOf<'tasks.cancel.request'>): Promise<ReplyBody<'tasks.cancel.request'>> {
    await this.#client(ctx);
    return { job: await this.#options.queue.cancel(body.id) };
  }

  @handles('tasks.retry.request')
  async retry(ctx: MessageContext<'tasks.retry.request'>, body: BodyOf<'tasks.retry.request'>): Promise<ReplyBody<'tasks.retry.request'>> {
    await this.#client(ctx);
    return { job: await this.#options.queue.retry(body.id) };
  }

  @handles('tasks.flow.request')
  async flow(ctx: MessageContext<'tasks.flow.request'>, body: BodyOf<'tasks.flow.request'>): Promise<ReplyBody<'tasks.flow.request'>> {
    await this.#client(ctx);
    return this.#options.queue.flow(body);
  }

  @handles('tasks.schedule.request')
  async schedule(ctx: MessageContext<'tasks.schedule.request'>, body: BodyOf<'tasks.schedule.request'>): Promise<ReplyBody<'tasks.schedule.request'>> {
    await this.#client(ctx);
    return { schedule: await this.#options.queue.schedule(body) };
  }

  @handles('tasks.unschedule.request')
  async unschedule(ctx: MessageContext<'tasks.unschedule.request'>, body: BodyOf<'tasks.unschedule.request'>): Promise<ReplyBody<'tasks.unschedule.request'>> {
    await this.#client(ctx);
    return { removed: await this.#options.queue.unschedule(body.name) };
  }

  @handles('tasks.route.request')
  async route(ctx: MessageContext<'tasks.route.request'>): Promise<ReplyBody<'tasks.route.request'>> {
    await this.#client(ctx);
    // Served on `tasks`, so by the coordinator: the client may send its next requests here directly.
    const endpoint = this.#options.directEndpoint?.();
    return { coordinator: this.#options.id, ...(endpoint === undefined ? {} : { endpoint }) };
  }

  @handles('tasks.schedules.request')
  async schedules(ctx: MessageContext<'tasks.schedules.request'>): Promise<ReplyBody<'tasks.schedules.request'>> {
    // Between servers (a new coordinator's catch-up): tombstones too, without a token.
    const between = ctx.via === `srv.${this.#options.id}`;
    if (!between) await this.#client(ctx);
    return { schedules: this.#options.store.schedules(1_000, between) };
  }

  @handles('tasks.purge.request')
  async purge(ctx: MessageContext<'tasks.purge.request'>, body: BodyOf<'tasks.purge.request'>): Promise<ReplyBody<'tasks.purge.request'>> {
    await this.#client(ctx);
    return this.#options.queue.purge(body.queue, body.state);
  }

  @handles('tasks.list.request')
  async list(ctx: MessageContext<'tasks.list.request'>, body: BodyOf<'tasks.list.request'>): Promise<ReplyBody<'tasks.list.request'>> {
    // Between servers (a new coordinator's catch-up) without a token, as replica.fetch is served.
    if (ctx.via !== `srv.${this.#options.id}`) await this.#client(ctx);
    const { queue, state } = body;
    const page = this.#options.store.list({ ...(queue === undefined ? {} : { queue }), ...(state === undefined ? {} : { state }) }, body.limit ?? DEFAULT_LIST_LIMIT, body.after);
    return { server: this.#options.id, jobs: page.jobs, ...(page.next === undefined ? {} : { next: page.next }), counts: this.#options.store.counts() };
  }

  @handles('tasks.copy.request')
  async copy(ctx: MessageContext<'tasks.copy.request'>, body: BodyOf<'tasks.copy.request'>): Promise<ReplyBody<'tasks.copy.request'>> {
    requireServedOn(ctx, [`srv.${this.#options.id}`]);
    return { server: this.#options.id, stored: await this.#options.store.merge(body.jobs, body.schedules ?? []) };
  }

  async #client(ctx: MessageContext): Promise<void> {
    requireServedOn(ctx, [TASKS_SERVICE]);
    await this.#options.auth.authorizeRead(ctx.envelope.auth);
  }
}
