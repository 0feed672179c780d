import { hostname } from 'node:os';
import type { Logger } from '@correio/observability';
import { isLocalOnlyEndpoint, ServiceEndpoint, type RequestHandler, type ServiceEndpointStats, type Stamp } from '@correio/transport';

/** Where a server takes other servers' requests to `srv.<id>` directly (revision 1.8). */
export interface PeerLinkOptions {
  /** The endpoint to bind, e.g. tcp://10.0.0.5:5601 or tcp://127.0.0.1:0 (a free port). */
  readonly bind: string;
  /** The endpoint registered with the reference server, when peers must use another address than the bound one (NAT, containers). */
  readonly advertise?: string;
}

/** A server's direct endpoint, bound and serving. */
export interface PeerEndpoint {
  /** What the reference server lists as this server's `peer`. */
  readonly advertised: string;
  readonly stats: () => ServiceEndpointStats;
  stop(): Promise<void>;
}

/**
 * The direct endpoint a server opens when none is configured: a free loopback port when its broker
 * is on this machine (then so are its peers, as `correio up` runs them), none otherwise — a
 * loopback address would name the wrong machine to a peer elsewhere. None with CURVE: the
 * endpoint would take requests outside the broker's admission (CURVE.md); nor without the
 * reference server, whose list is how peers learn the address.
 */
export function defaultPeerLink(options: { readonly broker: string; readonly curve: boolean; readonly ref: boolean }): PeerLinkOptions | undefined {
  if (options.curve || !options.ref || !isLocalOnlyEndpoint(options.broker)) return undefined;
  return { bind: 'tcp://127.0.0.1:0' };
}

/** Binds the direct endpoint of `srv.<id>` and serves it with `handler` (the service's own, middleware included). */
export async function openPeerEndpoint(options: {
  readonly id: string;
  readonly link: PeerLinkOptions;
  readonly handler: RequestHandler;
  /** Other services served there for a while (the task coordinator's `tasks`, revision 1.9). */
  readonly also?: (service: string) => RequestHandler | undefined;
  readonly stamp: Stamp;
  readonly concurrency: number;
  readonly logger: Logger;
}): Promise<PeerEndpoint> {
  const endpoint = new ServiceEndpoint({ service: `srv.${options.id}`, handler: options.handler, ...(options.also ? { also: options.also } : {}), stamp: options.stamp, concurrency: options.concurrency, logger: options.logger });
  try {
    const bound = await endpoint.bind(options.link.bind);
    endpoint.start();
    const advertised = options.link.advertise ?? reachable(bound);
    options.logger.info({ bound, advertised }, 'serving peers directly');
    return { advertised, stats: () => endpoint.stats, stop: () => endpoint.stop() };
  } catch (error) {
    await endpoint.stop().catch(() => undefined);
    throw error;
  }
}

/** The bound endpoint as another machine can use it: a wildcard address says nothing, the host name does. */
function reachable(bound: string): string {
  return bound.replace(/^tcp:\/\/(0\.0\.0\.0|\*|\[::\]):/, `tcp://${hostname()}:`);
}
