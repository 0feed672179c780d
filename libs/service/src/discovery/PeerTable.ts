import type { DiscoveryChange, SelfDescription, ServiceInstanceInfo } from './Discovery.js';

/** An announcement as it arrives: a description plus its state. */
export interface Announcement extends SelfDescription {
  readonly state: 'up' | 'down';
}

/**
 * The pure core of announce-based discovery: applies announcements and expiry, and says what
 * changed. Time is passed in, so tests drive it without timers.
 */
export class PeerTable {
  readonly #peers = new Map<string, ServiceInstanceInfo>();

  /**
   * @param ttlMs an instance not heard from for longer than this is down (liveness × interval).
   * @param maxInstances instances held at once: anyone can publish announcements on the proxy, so
   *   one from a new instance is ignored while this many are known (until some expire or leave).
   */
  constructor(
    private readonly ttlMs: number,
    private readonly maxInstances = 10_000,
  ) {}

  apply(announcement: Announcement, now: number): DiscoveryChange[] {
    const known = this.#peers.get(announcement.instance);
    if (announcement.state === 'down') {
      if (!known) return [];
      this.#peers.delete(announcement.instance);
      return [{ kind: 'down', info: { ...known, lastSeen: now }, reason: 'announced' }];
    }
    if (!known && this.#peers.size >= this.maxInstances) return [];
    const info: ServiceInstanceInfo = {
      service: announcement.service,
      version: announcement.version,
      instance: announcement.instance,
      actions: [...announcement.actions].sort(),
      events: [...announcement.events].sort(),
      firstSeen: known?.firstSeen ?? now,
      lastSeen: now,
    };
    this.#peers.set(info.instance, info);
    if (!known) return [{ kind: 'up', info }];
    if (sameOffer(known, info)) return [];
    return [{ kind: 'changed', info, previous: known }];
  }

  /** Marks down every instance silent for longer than the TTL. */
  expire(now: number): DiscoveryChange[] {
    const changes: DiscoveryChange[] = [];
    for (const [instance, info] of this.#peers) {
      if (now - info.lastSeen > this.ttlMs) {
        this.#peers.delete(instance);
        changes.push({ kind: 'down', info, reason: 'expired' });
      }
    }
    return changes;
  }

  /**
   * Forgets everyone when this instance stops: only `self` is reported (down, `stopped`); the
   * others did not go anywhere, this instance merely stopped watching them.
   */
  clear(self: string, now: number): DiscoveryChange[] {
    const own = this.#peers.get(self);
    this.#peers.clear();
    return own ? [{ kind: 'down', info: { ...own, lastSeen: now }, reason: 'stopped' }] : [];
  }

  has(instance: string): boolean {
    return this.#peers.has(instance);
  }

  instances(service?: string): ServiceInstanceInfo[] {
    const all = [...this.#peers.values()];
    return (service === undefined ? all : all.filter((info) => info.service === service)).sort((a, b) =>
      a.service === b.service ? compare(a.instance, b.instance) : compare(a.service, b.service),
    );
  }

  subscribers(event: string): string[] {
    const groups = new Set<string>();
    for (const info of this.#peers.values()) if (info.events.includes(event)) groups.add(info.service);
    return [...groups].sort(compare);
  }

  isUp(service: string): boolean {
    for (const info of this.#peers.values()) if (info.service === service) return true;
    return false;
  }
}

function sameOffer(a: ServiceInstanceInfo, b: ServiceInstanceInfo): boolean {
  return a.service === b.service && a.version === b.version && sameList(a.actions, b.actions) && sameList(a.events, b.events);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index]);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
