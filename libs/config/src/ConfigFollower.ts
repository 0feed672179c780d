import { CorreioError, UnknownServiceError } from '@correio/codec';
import { componentLogger, type Logger } from '@correio/observability';
import type { BodyOf } from '@correio/protocol';
import { RequestClient, Subscriber, type SocketOptions } from '@correio/transport';
import { applyChanges } from './liveSettings.js';
import type { Settings } from './checkDocument.js';
import { parseSettings } from './effective.js';
import type { ConfigProgram } from './schema.js';

export interface ConfigFollowerOptions {
  readonly program: ConfigProgram;
  /** This program's node id; absent for a program without one (the proxy): the kind's document only. */
  readonly instance?: string;
  /** The broker endpoint(s) through which the `config` service answers. */
  readonly broker: string | readonly string[];
  /** The proxy's XPUB endpoint: `config.changed` events make changes take effect at once. Without it, only the periodic check sees them (`follow` may give it later). */
  readonly events?: string;
  /** Socket options (CURVE keys) for both sockets. */
  readonly socket?: SocketOptions;
  readonly logger?: Logger;
  /** Ms per fetch attempt. Default 2000. */
  readonly timeoutMs?: number;
  /** Ms between checks of the versions: what repairs a lost event. Default 30,000 with events, 5,000 without. */
  readonly checkIntervalMs?: number;
}

/** What the service held at the last fetch. */
export interface FetchedConfig {
  readonly settings: Settings;
  readonly kindVersion: number;
  readonly instanceVersion: number;
}

/** Ms before the first check when the program has no answer from the service yet. */
const FIRST_CHECK_MS = 1_000;
/** Ms between checks of the versions: events make changes take effect at once, the check repairs a lost one. */
const CHECK_WITH_EVENTS_MS = 30_000;
/** Without events, the check is how changes arrive at all. */
const CHECK_WITHOUT_EVENTS_MS = 5_000;
/**
 * Ms between fetches that events set off: anyone can publish on the proxy, so a flood of forged
 * `config.changed` costs each program at most this many fetches a second (events in between are
 * folded into one).
 */
const EVENT_REFRESH_SPACING_MS = 250;

/**
 * A program's link to the configuration service: `fetch` reads its effective settings (at start),
 * `follow` then applies each change as it comes — live settings at once, the rest reported as
 * needing a restart. Never throws on the service being away: the program keeps running on what it
 * has, and says so once.
 */
export class ConfigFollower {
  readonly #options: ConfigFollowerOptions;
  readonly #log: Logger;
  readonly #client: RequestClient;
  #subscriber: Subscriber | undefined;
  #current: FetchedConfig | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** A refresh an event asked for, waiting for its spacing. */
  #eventTimer: NodeJS.Timeout | undefined;
  #lastEventRefresh = Number.NEGATIVE_INFINITY;
  /** One refresh at a time; a change heard meanwhile asks for one more. */
  #refreshing: Promise<void> | undefined;
  #again = false;
  /** Whether the service answered the last fetch; undefined before the first. A failure is said when this turns false. */
  #answered: boolean | undefined;
  #closed = false;

  constructor(options: ConfigFollowerOptions) {
    this.#options = options;
    this.#log = componentLogger('config', options.logger);
    this.#client = new RequestClient({ endpoint: options.broker, timeout: options.timeoutMs ?? 2_000, ...(options.socket ?? {}) });
  }

  /** Reads the effective settings once. Undefined when the service cannot be reached or refuses: the caller falls back. */
  async fetch(): Promise<FetchedConfig | undefined> {
    const { program, instance } = this.#options;
    try {
      // Until the service answers: the broker holds a request for a service nobody serves yet (until
      // its time-out), while MMI answers at once.
      if (this.#answered !== true) {
        const [served] = await this.#client.requestRaw('mmi.service', [Buffer.from('config')]);
        if (served !== undefined && Buffer.from(served).toString() === '404') throw new UnknownServiceError('no server serves the config service yet');
      }
      const reply = await this.#client.request('config', 'config.get.request', { program, ...(instance === undefined ? {} : { instance }) });
      if (reply.type === 'error') throw CorreioError.fromWire(reply.body);
      const body = reply.body as BodyOf<'config.get.reply'>;
      const fetched = { settings: parseSettings(body.effective), kindVersion: body.kind_version, instanceVersion: instance === undefined ? 0 : body.version };
      if (this.#answered === false) this.#log.info({ program, instance }, 'the configuration service answers: following it');
      this.#answered = true;
      return fetched;
    } catch (error) {
      if (this.#answered !== false) {
        const reason = error instanceof Error ? error.message : String(error);
        // No server serves it yet (a whole cluster starting): expected, so said quietly. Anything else is worth a warning.
        const starting = error instanceof CorreioError && error.code === 'UNKNOWN_SERVICE';
        this.#log[starting ? 'info' : 'warn'](
          { program, instance, err: reason },
          starting
            ? 'no server serves the configuration service yet: running on the local settings, and following the service once it answers'
            : 'the configuration service did not answer: running on the local settings, and following the service once it answers',
        );
      }
      this.#answered = false;
      return undefined;
    }
  }

  /**
   * Starts following from `initial` (what the program started with; undefined when the first
   * fetch failed — the first answer then counts as a change): hears `config.changed`, checks the
   * versions every checkIntervalMs. `events`: the proxy's XPUB endpoint, when it was not known
   * at construction (the proxy's own, once it is bound).
   */
  follow(initial: FetchedConfig | undefined, events = this.#options.events): void {
    this.#current = initial;
    const unknown = initial !== undefined && initial.kindVersion < 0;
    const { program, instance } = this.#options;
    if (events !== undefined) {
      const subscriber = new Subscriber({ topics: [`config/${program}/`], logger: this.#log, ...(this.#options.socket ?? {}) });
      subscriber.connect(events);
      this.#subscriber = subscriber;
      void (async () => {
        try {
          for await (const publication of subscriber) {
            if (publication.envelope.type !== 'config.changed') continue;
            const changed = publication.envelope.body;
            if (changed.instance === undefined || changed.instance === instance) this.#refreshForEvent();
          }
        } catch (error) {
          if (!this.#closed) this.#log.warn({ err: error }, 'configuration events stopped; the periodic check still follows changes');
        }
      })();
    }
    const interval = this.#options.checkIntervalMs ?? (events === undefined ? CHECK_WITHOUT_EVENTS_MS : CHECK_WITH_EVENTS_MS);
    const tick = () => {
      if (this.#closed) return;
      void this.refresh();
      this.#timer = setTimeout(tick, interval).unref();
    };
    // Without an answer yet (the service was away, or the program could not ask before it was up), ask soon.
    this.#timer = setTimeout(tick, initial === undefined || unknown ? Math.min(FIRST_CHECK_MS, interval) : interval).unref();
  }

  /** A refresh for an event: at once, or once the spacing since the last one has passed (one for all the events meanwhile). */
  #refreshForEvent(): void {
    if (this.#eventTimer !== undefined || this.#closed) return;
    const wait = Math.max(0, this.#lastEventRefresh + EVENT_REFRESH_SPACING_MS - performance.now());
    this.#eventTimer = setTimeout(() => {
      this.#eventTimer = undefined;
      this.#lastEventRefresh = performance.now();
      void this.refresh();
    }, wait).unref();
  }

  /** Fetches again and applies what changed; resolves when done (coalesced with a refresh under way). */
  refresh(): Promise<void> {
    if (this.#refreshing) {
      this.#again = true;
      return this.#refreshing;
    }
    this.#refreshing = (async () => {
      do {
        this.#again = false;
        const fetched = await this.fetch();
        if (fetched === undefined || this.#closed) continue;
        const before = this.#current;
        this.#current = fetched;
        if (before && before.kindVersion === fetched.kindVersion && before.instanceVersion === fetched.instanceVersion) continue;
        this.#apply(before?.settings ?? {}, fetched);
      } while (this.#again && !this.#closed);
    })().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  #apply(before: Settings, fetched: FetchedConfig): void {
    const change = applyChanges(before, fetched.settings);
    if (change.applied.length + change.restart.length + change.failed.length === 0) return;
    const fields = { program: this.#options.program, instance: this.#options.instance, kind_version: fetched.kindVersion, instance_version: fetched.instanceVersion };
    if (change.applied.length > 0) this.#log.warn({ ...fields, applied: change.applied }, `configuration changed: applied ${change.applied.join(', ')} without a restart`);
    if (change.restart.length > 0) this.#log.warn({ ...fields, restart: change.restart }, `configuration changed: ${change.restart.join(', ')} take effect at the next start`);
    for (const { key, error } of change.failed) this.#log.error({ ...fields, key, err: error }, `configuration changed: ${key} could not be applied`);
    // Written at info, after the level itself may have changed: seen only where the new level lets it through.
    this.#log.info({ ...fields, settings: fetched.settings }, 'configuration in effect');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#eventTimer);
    await Promise.allSettled([this.#subscriber?.close(), this.#client.close()]);
  }
}
