import type { Duration } from '../duration.js';

/** One live service instance, as discovery knows it. */
export interface ServiceInstanceInfo {
  readonly service: string;
  readonly version: number;
  readonly instance: string;
  /** The actions it serves, full names such as `greeter.hello`. */
  readonly actions: readonly string[];
  /** The events it handles. */
  readonly events: readonly string[];
  /** When this process first and last heard from it (local ms since the epoch). */
  readonly firstSeen: number;
  readonly lastSeen: number;
}

/** An instance joined, left (announced `down`), expired (went silent), stopped (this instance itself), or changed what it serves. */
export type DiscoveryChange =
  | { readonly kind: 'up'; readonly info: ServiceInstanceInfo }
  | { readonly kind: 'down'; readonly info: ServiceInstanceInfo; readonly reason: 'announced' | 'expired' | 'stopped' }
  | { readonly kind: 'changed'; readonly info: ServiceInstanceInfo; readonly previous: ServiceInstanceInfo };

/** What an instance says about itself when it announces. */
export interface SelfDescription {
  readonly service: string;
  readonly version: number;
  readonly instance: string;
  readonly actions: readonly string[];
  readonly events: readonly string[];
}

export interface WaitForOptions {
  /** Defaults to 30s; then the wait fails with TIMEOUT naming the services still missing. */
  readonly timeout?: Duration;
  readonly signal?: AbortSignal;
}

/**
 * The registry of live service instances. The framework only talks to this interface: the
 * announce-based implementation (heartbeats on the proxy) can be replaced by another source, such
 * as a reference server, without touching services.
 */
export interface Discovery {
  /**
   * Starts announcing `self` and learning about peers; resolves once `self` is visible to peers,
   * rejects with UNAVAILABLE when that takes longer than `timeout` ms.
   */
  start(self: SelfDescription, options?: { readonly timeout?: number }): Promise<void>;
  /** Announces that `self` is leaving and stops; afterwards no change is reported. */
  stop(): Promise<void>;
  /** Live instances, of one service or of all. */
  instances(service?: string): readonly ServiceInstanceInfo[];
  /** Services with at least one live instance that handles `event`, sorted. */
  subscribers(event: string): readonly string[];
  /** Resolves once every named service has a live instance. */
  waitFor(services: readonly string[], options?: WaitForOptions): Promise<void>;
  /** Reports every change, in the order discovery saw them; returns the unsubscribe function. */
  subscribe(listener: (change: DiscoveryChange) => void): () => void;
}
