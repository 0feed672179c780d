import { checkDocument, effectiveSettings, parseSettings, type DocumentProblem } from '@correio/config';
import { ConflictError, CorreioError, InternalError, NotFoundError, UnavailableError, ValidationError } from '@correio/codec';
import type { AnyEnvelope, BodyOf, MessageType, Operation } from '@correio/protocol';
import { handles, type MessageContext, type ReplyBody } from '@correio/service';
import type { Authenticator } from '../auth/Authenticator.js';
import { requireOperator, requireServedOn } from '../auth/operatorRequests.js';
import type { OperationClock } from '../OperationClock.js';
import type { ChatStore } from '../store/ChatStore.js';
import type { ConfigEntry } from '../store/ConfigIndex.js';

export interface ConfigHandlersOptions {
  /** This server's id: the origin of the versions it sets; it serves `srv.<id>`. */
  readonly id: string;
  readonly store: ChatStore;
  readonly clock: OperationClock;
  readonly auth: Authenticator;
  /**
   * Who sets versions now: `self`, another server's id, or undefined while no coordinator is
   * known (an election under way). A server without a reference server is its own coordinator.
   */
  readonly coordinator: () => 'self' | string | undefined;
  /** Sends a request to another server's `srv.<id>` with the caller's auth and request id. */
  readonly forward: (server: string, type: MessageType, body: object, ctx: MessageContext) => Promise<AnyEnvelope>;
  /**
   * Brings this store up to what every live peer holds: run before a version is assigned, so a
   * coordinator elected since the last change continues from the newest version any server has.
   */
  readonly syncWithPeers: () => Promise<void>;
  /** Resolves once the operation is durable on every live peer (rejects with a retryable error otherwise). */
  readonly confirmEverywhere: (op: Operation) => Promise<void>;
  /** Publishes `config.changed` on `config/<program>/`. */
  readonly announce: (changed: BodyOf<'config.changed'>) => void;
  /** Ms a forwarded write may take. */
  readonly forwardTimeoutMs?: number;
}

type Scope = { readonly program: BodyOf<'config.get.request'>['program']; readonly instance?: string };
type SetData = Extract<Operation, { kind: 'config.set' }>['data'];

/** Keys whose values are secrets: every program may read the service, so it keeps none. */
const SECRET_KEY = /SecretKey$/;
/** The broker service of configuration (protocol/FRAMES.md §4.2). */
const CONFIG_SERVICE = 'config';

/**
 * The `config` service (protocol README, revision 1.4): versioned configuration documents per
 * program kind and instance, served by every chat server from its store. Writes are carried out
 * by the coordinator, so versions of a scope are linear and compare-and-set means what it says;
 * another server forwards a write to `srv.<coordinator>` (once: a write that arrives there on a
 * server that is no longer coordinator is refused, retryable). A version is acknowledged once
 * durable on every live server, so a newly elected coordinator holds it.
 */
export class ConfigHandlers {
  readonly #options: ConfigHandlersOptions;

  constructor(options: ConfigHandlersOptions) {
    this.#options = options;
  }

  @handles('config.get.request')
  get(ctx: MessageContext<'config.get.request'>, body: BodyOf<'config.get.request'>): ReplyBody<'config.get.request'> {
    this.#servedHere(ctx);
    const { config } = this.#options.store;
    const kind = config.head(body.program, undefined);
    const own = body.instance === undefined ? kind : config.head(body.program, body.instance);
    const effective = body.instance === undefined ? (kind?.document ?? '{}') : JSON.stringify(effectiveSettings(parseSettings(kind?.document ?? '{}'), parseSettings(own?.document ?? '{}')));
    return {
      ...scopeOf(body),
      version: own?.version ?? 0,
      document: own?.document ?? '{}',
      ...(own ? { author: own.author, at: own.at } : {}),
      kind_version: kind?.version ?? 0,
      effective,
    };
  }

  @handles('config.history.request')
  async history(ctx: MessageContext<'config.history.request'>, body: BodyOf<'config.history.request'>): Promise<ReplyBody<'config.history.request'>> {
    this.#servedHere(ctx);
    await this.#requireOperator(ctx);
    const versions = this.#options.store.config.history(body.program, body.instance, body.limit ?? 20, body.before_version);
    return { ...scopeOf(body), versions: versions.map(entryOf) };
  }

  @handles('config.set.request')
  async set(ctx: MessageContext<'config.set.request'>, body: BodyOf<'config.set.request'>): Promise<ReplyBody<'config.set.request'>> {
    this.#servedHere(ctx);
    const author = await this.#requireOperator(ctx);
    const check = checkDocument(body.program, body.document);
    const problems = check.ok ? secretsIn(Object.keys(check.settings)) : check.problems;
    if (problems.length > 0) {
      throw new ValidationError(`the ${body.program} document was refused: ${problems.map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)).join('; ')}`, {
        data: { reason: 'invalid_document', program: body.program, problems: problems.slice(0, 20) },
      });
    }
    return this.#write(ctx, author, body, body.expected_version, () => body.document);
  }

  @handles('config.rollback.request')
  async rollback(ctx: MessageContext<'config.rollback.request'>, body: BodyOf<'config.rollback.request'>): Promise<ReplyBody<'config.rollback.request'>> {
    this.#servedHere(ctx);
    const author = await this.#requireOperator(ctx);
    return this.#write(ctx, author, body, body.expected_version, () => {
      const earlier = this.#options.store.config.version(body.program, body.instance, body.to_version);
      if (!earlier) throw new NotFoundError(`the ${describe(body)} configuration has no version ${body.to_version}`, { data: { ...scopeOf(body), version: body.to_version } });
      return earlier.document;
    }, body.to_version);
  }

  /**
   * Sets the next version of a scope on the coordinator: forwarded there from another server;
   * there, compare-and-set inside the commit, durable on every live peer, then announced.
   */
  async #write(ctx: MessageContext, author: string, scope: Scope, expected: number, document: () => string, rollbackOf?: number): Promise<ReplyBody<'config.set.request'>> {
    const replyType = rollbackOf === undefined ? 'config.set.reply' : 'config.rollback.reply';
    const { id, store, clock, coordinator } = this.#options;
    const who = coordinator();
    if (who === undefined) throw new UnavailableError('no coordinator is elected right now, and configuration changes go through it; retry in a few seconds', { data: { reason: 'no_coordinator' } });
    if (who !== 'self') {
      if (ctx.via !== CONFIG_SERVICE) throw new UnavailableError(`server ${id} is no longer the coordinator (${who} is); send the change to the config service again`, { data: { reason: 'not_coordinator', coordinator: who } });
      const reply = await this.#options.forward(who, ctx.type, ctx.envelope.body as object, ctx);
      if (reply.type === 'error') throw CorreioError.fromWire(reply.body);
      if (reply.type !== replyType) throw new InternalError(`the coordinator answered a configuration change with ${reply.type}`);
      return reply.body as ReplyBody<'config.set.request'>;
    }
    await this.#options.syncWithPeers();
    const committed = await store.commitLocal(id, ctx.id, (seq) => {
      const current = store.config.head(scope.program, scope.instance)?.version ?? 0;
      if (current !== expected) {
        throw new ConflictError(`the ${describe(scope)} configuration is at version ${current}, not ${expected}: read it again (correio config get), then change that version`, {
          data: { ...scopeOf(scope), current_version: current, expected_version: expected },
        });
      }
      const data: SetData = { ...scopeOf(scope), version: current + 1, document: document(), author, ...(rollbackOf === undefined ? {} : { rollback_of: rollbackOf }) };
      return clock.stamp(id, seq, 'config.set', data, ctx.id);
    });
    const op = committed!.op;
    if (op.kind !== 'config.set' || op.data.program !== scope.program || op.data.instance !== scope.instance) {
      throw new ConflictError(`request id ${ctx.id} was already used for another request (a ${op.kind}); send a new request with a new id`, { data: { rid: ctx.id, kind: op.kind } });
    }
    await this.#options.confirmEverywhere(op);
    const at = op.hlc[0];
    this.#options.announce({ ...scopeOf(scope), version: op.data.version, author: op.data.author, at });
    return { ...scopeOf(scope), version: op.data.version, at };
  }

  /** Configuration is served on `config` and `srv.<id>` (FRAMES.md §4.2); the server's other services refuse it. */
  #servedHere(ctx: MessageContext): void {
    requireServedOn(ctx, [CONFIG_SERVICE, `srv.${this.#options.id}`]);
  }

  /** The verified operator a request acts for (the author of what it sets); FORBIDDEN for anyone else. */
  #requireOperator(ctx: MessageContext): Promise<string> {
    return requireOperator(this.#options.auth, ctx, 'configuration changes and history need');
  }
}

function secretsIn(keys: readonly string[]): DocumentProblem[] {
  return keys
    .filter((key) => SECRET_KEY.test(key))
    .map((key) => ({ field: key, message: `secrets are not kept in the configuration service, which every program reads: set ${key} in the program's own file, flag or environment, or give ${key}File` }));
}

function scopeOf(scope: Scope): Scope {
  return scope.instance === undefined ? { program: scope.program } : { program: scope.program, instance: scope.instance };
}

function describe(scope: Scope): string {
  return scope.instance === undefined ? scope.program : `${scope.program} ${scope.instance}`;
}

function entryOf(entry: ConfigEntry): BodyOf<'config.history.reply'>['versions'][number] {
  return { version: entry.version, document: entry.document, author: entry.author, at: entry.at, ...(entry.rollback_of === undefined ? {} : { rollback_of: entry.rollback_of }), op: entry.op };
}
