import { TimeoutError, UnavailableError } from '@correio/codec';
import { sleep } from '../backoff.js';
import type { Publisher } from '@correio/transport';
import type { Logger } from 'pino';
import { toMillis, type Duration } from '../duration.js';
import { announceTopic } from '../names.js';
import type { Discovery, DiscoveryChange, SelfDescription, ServiceInstanceInfo, WaitForOptions } from './Discovery.js';
import { PeerTable, type Announcement } from './PeerTable.js';

export interface AnnounceDiscoveryOptions {
  /** How often an instance repeats its announcement. Defaults to 2s. */
  readonly interval?: Duration;
  /** Announcements an instance may miss before it is marked down. Defaults to 3. */
  readonly liveness?: number;
}

export interface AnnounceDiscoveryDeps {
  readonly publisher: Publisher;
  readonly logger: Logger;
}

/**
 * Discovery by heartbeats on the proxy (FRAMES.md §4.1): each instance publishes `service.announce`
 * on `announce/<service>/` when it starts, every `interval` while it runs and with state `down` when
 * it stops; every instance listens to `announce/` and keeps a PeerTable. An instance silent for
 * `liveness × interval` is marked down. When a new peer appears, this instance announces itself
 * early (once per half interval at most), so newcomers learn about it without waiting a full interval.
 *
 * Feed it the announcements the service's subscriber receives with `receive()`.
 */
export class AnnounceDiscovery implements Discovery {
  readonly #interval: number;
  readonly #table: PeerTable;
  readonly #deps: AnnounceDiscoveryDeps;
  readonly #listeners = new Set<(change: DiscoveryChange) => void>();
  #self: SelfDescription | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #lastAnnounce = 0;
  #earlyAnnounce: NodeJS.Timeout | undefined;
  #running = false;
  #echoed = false;
  #onEcho: (() => void) | undefined;

  constructor(options: AnnounceDiscoveryOptions, deps: AnnounceDiscoveryDeps) {
    this.#interval = toMillis(options.interval ?? 2_000, 'discovery.interval');
    const liveness = options.liveness ?? 3;
    if (this.#interval <= 0) throw new RangeError('discovery.interval must be more than 0');
    if (!Number.isInteger(liveness) || liveness < 1) throw new RangeError('discovery.liveness must be a positive integer');
    this.#table = new PeerTable(this.#interval * liveness);
    this.#deps = deps;
  }

  /** The topic prefix to subscribe to. */
  static readonly topics: readonly string[] = ['announce/'];

  /**
   * Announces `self` until its own announcement comes back through the proxy: then the proxy has
   * our subscriptions and peers hear us. Heartbeats and expiry run from then on.
   */
  async start(self: SelfDescription, options: { readonly timeout?: number } = {}): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#self = self;
    // Known at once to itself: waitFor(own name) and emits to its own group need no round trip.
    this.#apply({ ...self, state: 'up' });
    this.#sweeper = setInterval(() => this.#emit(this.#table.expire(Date.now())), Math.max(10, Math.round(this.#interval / 2)));
    const deadline = Date.now() + (options.timeout ?? 30_000);
    const echoed = new Promise<void>((resolve) => (this.#onEcho = resolve));
    // Bounded: one announcement per retry step until the deadline.
    for (let attempt = 0; !this.#echoed && this.#running && Date.now() < deadline; attempt++) {
      this.#announce('up');
      const wait = Math.min(this.#interval, 50 * 2 ** Math.min(attempt, 3), Math.max(0, deadline - Date.now()));
      await Promise.race([echoed, sleep(wait)]);
    }
    if (!this.#running) throw new UnavailableError('discovery stopped while starting');
    if (!this.#echoed) {
      throw new UnavailableError(`no announcement came back through the proxy within ${options.timeout ?? 30_000}ms: is the proxy running?`);
    }
    this.#heartbeat = setInterval(() => this.#announce('up'), this.#interval);
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    clearInterval(this.#heartbeat);
    clearInterval(this.#sweeper);
    clearTimeout(this.#earlyAnnounce);
    this.#announce('down', true);
    this.#emit(this.#table.clear(this.#self?.instance ?? '', Date.now()));
  }

  /** Applies an announcement received from the proxy. */
  receive(body: Announcement): void {
    if (!this.#running) return;
    if (body.instance === this.#self?.instance) {
      this.#echoed = true;
      this.#onEcho?.();
      if (body.state === 'down') return; // our own farewell from an earlier run is not news
    }
    const isNew = body.state === 'up' && !this.#table.has(body.instance);
    this.#apply(body);
    if (isNew && body.instance !== this.#self?.instance) this.#announceSoon();
  }

  instances(service?: string): readonly ServiceInstanceInfo[] {
    return this.#table.instances(service);
  }

  subscribers(event: string): readonly string[] {
    return this.#table.subscribers(event);
  }

  waitFor(services: readonly string[], options: WaitForOptions = {}): Promise<void> {
    const missing = () => services.filter((service) => !this.#table.isUp(service));
    if (missing().length === 0) return Promise.resolve();
    const timeout = toMillis(options.timeout ?? 30_000, 'waitFor timeout');
    return new Promise<void>((resolve, reject) => {
      const finish = (error?: unknown) => {
        clearTimeout(timer);
        unsubscribe();
        options.signal?.removeEventListener('abort', onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onAbort = () => finish(options.signal!.reason);
      const timer = setTimeout(
        () => finish(new TimeoutError(`services not up after ${timeout}ms: ${missing().join(', ')}`, { data: { missing: missing(), timeout } })),
        timeout,
      );
      const unsubscribe = this.subscribe(() => {
        if (missing().length === 0) finish();
      });
      if (options.signal?.aborted) onAbort();
      else options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  subscribe(listener: (change: DiscoveryChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #apply(announcement: Announcement): void {
    this.#emit(this.#table.apply(announcement, Date.now()));
  }

  #emit(changes: readonly DiscoveryChange[]): void {
    for (const change of changes) {
      for (const listener of [...this.#listeners]) {
        try {
          listener(change);
        } catch (error) {
          this.#deps.logger.error({ err: error }, 'a discovery listener threw');
        }
      }
    }
  }

  #announceSoon(): void {
    if (this.#earlyAnnounce) return;
    const wait = Math.max(0, this.#lastAnnounce + this.#interval / 2 - Date.now());
    this.#earlyAnnounce = setTimeout(() => {
      this.#earlyAnnounce = undefined;
      if (this.#running) this.#announce('up');
    }, wait);
  }

  #announce(state: 'up' | 'down', final = false): void {
    const self = this.#self;
    if (!self) return;
    this.#lastAnnounce = Date.now();
    try {
      this.#deps.publisher.publish(announceTopic(self.service), 'service.announce', {
        service: self.service,
        version: self.version,
        instance: self.instance,
        state,
        actions: [...self.actions],
        events: [...self.events],
        at: Date.now(),
      });
    } catch (error) {
      // A full send queue drops one heartbeat; the next one comes an interval later.
      this.#deps.logger[final ? 'warn' : 'debug']({ err: error, state }, 'announcement not sent');
    }
  }
}
