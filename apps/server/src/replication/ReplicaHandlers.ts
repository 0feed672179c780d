import { BadRequestError } from '@correio/codec';
import type { BodyOf, Operation } from '@correio/protocol';
import { serveApply, serveDigest, serveFetch, serverService, type ReplicaLog } from '@correio/replication';
import { handles, type MessageContext, type ReplyBody } from '@correio/service';

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
  readonly #onApplied: (ops: readonly Operation[]) => void;

  /** `onApplied` sees every applied batch once it is durable (to notice operations missing before it). */
  constructor(id: string, log: ReplicaLog, onApplied: (ops: readonly Operation[]) => void = () => undefined) {
    this.#id = id;
    this.#log = log;
    this.#service = serverService(id);
    this.#onApplied = onApplied;
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
    const reply = await serveApply(this.#log, this.#id, body);
    this.#onApplied(body.ops);
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
