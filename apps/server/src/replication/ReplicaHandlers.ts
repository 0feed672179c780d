import { BadRequestError, UnavailableError } from '@correio/codec';
import { traceWrite } from '@correio/observability';
import type { BodyOf, Operation } from '@correio/protocol';
import { serveApply, serveDigest, serveFetch, serverService, type ReplicaLog } from '@correio/replication';
import { handles, type MessageContext, type ReplyBody } from '@correio/service';

export interface ReplicaHandlersOptions {
  /** Sees every applied batch once it is durable (to notice operations missing before it). */
  readonly onApplied?: (ops: readonly Operation[]) => void;
  /** The origins of `ops` this server does not accept: a batch naming any is refused whole. */
  readonly unknownOrigins?: (ops: readonly Operation[]) => readonly string[];
  /** Told of a refused batch (to count and warn). */
  readonly onRefused?: (count: number, origins: readonly string[]) => void;
}

/**
 * The replication requests a server answers for its peers (protocol/FRAMES.md §4.2), from its own
 * store: `replica.fetch.request` (a consecutive run of one origin's operations), `replica.digest.request`
 * (per-origin high-water marks, hash, count) and `replica.apply.request` (apply durably, then reply).
 * They are addressed to this one server, so they are refused on the shared `chat` service.
 */
export class ReplicaHandlers {
  readonly #id: string;
  readonly #log: ReplicaLog;
  readonly #service: string;
  readonly #options: ReplicaHandlersOptions;

  constructor(id: string, log: ReplicaLog, options: ReplicaHandlersOptions = {}) {
    this.#id = id;
    this.#log = log;
    this.#service = serverService(id);
    this.#options = options;
  }

  @handles('replica.fetch.request')
  fetch(ctx: MessageContext<'replica.fetch.request'>, body: BodyOf<'replica.fetch.request'>): ReplyBody<'replica.fetch.request'> {
    this.#addressedHere(ctx);
    return serveFetch(this.#log, body);
  }

  @handles('replica.digest.request')
  digest(ctx: MessageContext<'replica.digest.request'>): ReplyBody<'replica.digest.request'> {
    this.#addressedHere(ctx);
    return serveDigest(this.#log, this.#id);
  }

  @handles('replica.apply.request')
  async apply(ctx: MessageContext<'replica.apply.request'>, body: BodyOf<'replica.apply.request'>): Promise<ReplyBody<'replica.apply.request'>> {
    this.#addressedHere(ctx);
    const unknown = this.#options.unknownOrigins?.(body.ops) ?? [];
    if (unknown.length > 0) {
      // Refused whole, never confirmed: the sender must not count this server as holding the batch.
      // Retryable, as a server that has just joined may be missing from this server's list for a moment.
      this.#options.onRefused?.(body.ops.length, unknown);
      throw new UnavailableError(`server ${this.#id} does not store operations of origins the cluster membership does not list: ${unknown.slice(0, 5).join(', ')}`, {
        data: { server: this.#id, reason: 'unknown_origin', origins: unknown.slice(0, 5) },
      });
    }
    if (traceWrite) for (const op of body.ops) if (op.rid !== undefined) traceWrite('peer.apply.start', op.rid, ctx.id);
    const reply = await serveApply(this.#log, this.#id, body);
    if (traceWrite) for (const op of body.ops) if (op.rid !== undefined) traceWrite('peer.apply.durable', op.rid, ctx.id);
    this.#options.onApplied?.(body.ops);
    return reply;
  }

  #addressedHere(ctx: MessageContext): void {
    if (ctx.via !== this.#service) {
      throw new BadRequestError(`${ctx.type} is served on ${this.#service} only, not on ${ctx.via}: replication addresses one server`, {
        data: { type: ctx.type, service: ctx.via },
      });
    }
  }
}
