import type { BodyOf, LogRecord } from '@correio/protocol';
import { handles, type MessageContext, type ReplyBody } from '@correio/service';
import { LEVEL_NUMBERS } from '@correio/logs';
import type { Authenticator } from '../auth/Authenticator.js';
import { requireOperator, requireServedOn } from '../auth/operatorRequests.js';
import type { LogStore } from './LogStore.js';

export interface LogHandlersOptions {
  /** This server's id: it serves `srv.<id>`. */
  readonly id: string;
  readonly store: LogStore;
  readonly auth: Authenticator;
  /**
   * Copies lines to every live peer (`logs.copy.request` on `srv.<peer>`), resolving once each
   * answered or failed: a peer that missed them gets them by anti-entropy.
   */
  readonly copyToPeers: (lines: readonly LogRecord[]) => Promise<void>;
}

/** The broker service of the central logs (protocol/FRAMES.md §4.2). */
export const LOGS_SERVICE = 'logs';
const DEFAULT_LIMIT = 100;

/**
 * The `logs` service (protocol README, revision 1.5), served by every chat server: programs ship
 * batches of lines (`logs.ship`), stored durably here and copied to every live peer before the
 * reply; operators read them (`logs.query`). Between servers, on `srv.<id>` only: `logs.copy`
 * (a peer's copy) and `logs.digest` (anti-entropy), and `logs.query` without a token, as
 * `replica.fetch` is served.
 */
export class LogHandlers {
  readonly #options: LogHandlersOptions;

  constructor(options: LogHandlersOptions) {
    this.#options = options;
  }

  @handles('logs.ship.request')
  async ship(ctx: MessageContext<'logs.ship.request'>, body: BodyOf<'logs.ship.request'>): Promise<ReplyBody<'logs.ship.request'>> {
    this.#servedOn(ctx, LOGS_SERVICE);
    const { program, instance, boot } = body;
    const records = body.lines.map((line): LogRecord => ({ program, instance, boot, ...line }));
    const outcome = await this.#options.store.store(records);
    // Only what is new here travels on: a batch sent again is not copied again.
    if (outcome.stored > 0) await this.#options.copyToPeers(records);
    return outcome;
  }

  @handles('logs.copy.request')
  async copy(ctx: MessageContext<'logs.copy.request'>, body: BodyOf<'logs.copy.request'>): Promise<ReplyBody<'logs.copy.request'>> {
    this.#servedOn(ctx, `srv.${this.#options.id}`);
    const { stored } = await this.#options.store.store(body.lines);
    return { server: this.#options.id, stored };
  }

  @handles('logs.digest.request')
  digest(ctx: MessageContext<'logs.digest.request'>, body: BodyOf<'logs.digest.request'>): ReplyBody<'logs.digest.request'> {
    this.#servedOn(ctx, `srv.${this.#options.id}`);
    const { floor, buckets, next } = this.#options.store.digest(body.since, body.until);
    return { server: this.#options.id, floor, buckets, ...(next === undefined ? {} : { next }) };
  }

  @handles('logs.query.request')
  async query(ctx: MessageContext<'logs.query.request'>, body: BodyOf<'logs.query.request'>): Promise<ReplyBody<'logs.query.request'>> {
    // Operators only on `logs`; between servers (`srv.<id>`) as replica.fetch is served.
    if (ctx.via !== `srv.${this.#options.id}`) {
      this.#servedOn(ctx, LOGS_SERVICE);
      await this.#requireOperator(ctx);
    }
    const page = this.#options.store.query(
      {
        ...(body.program === undefined ? {} : { program: body.program }),
        ...(body.instance === undefined ? {} : { instance: body.instance }),
        ...(body.level === undefined ? {} : { minLevel: LEVEL_NUMBERS[body.level] }),
        ...(body.since === undefined ? {} : { since: body.since }),
        ...(body.until === undefined ? {} : { until: body.until }),
        ...(body.request_id === undefined ? {} : { requestId: body.request_id }),
        ...(body.contains === undefined ? {} : { contains: body.contains }),
      },
      body.order ?? 'asc',
      body.limit ?? DEFAULT_LIMIT,
      body.after,
    );
    return { server: this.#options.id, lines: page.lines, ...(page.next === undefined ? {} : { next: page.next }) };
  }

  #servedOn(ctx: MessageContext, service: string): void {
    requireServedOn(ctx, [service]);
  }

  async #requireOperator(ctx: MessageContext): Promise<void> {
    await requireOperator(this.#options.auth, ctx, 'reading the central logs needs');
  }
}
