import { NotFoundError, BadRequestError } from '@correio/codec';
import type { ServiceCallRequest } from '@correio/protocol';
import type { FastifyInstance } from 'fastify';
import type { Upstream } from '../Upstream.js';
import { bearerAuth } from './bearerAuth.js';

/** Service names the generic route accepts at all (defs.json serviceName, one to three segments). */
const SERVICE_NAME = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*){0,2}$/;

export interface ServiceRouteOptions {
  /** Services `POST /v1/services/{name}` may call; empty: the route refuses every name. */
  readonly allowed: ReadonlySet<string>;
  /** The chat service, listed by `GET /v1/services`. */
  readonly chatService: string;
  readonly probeTimeoutMs: number;
}

/**
 * `POST /v1/services/{name}`: a `service.call.request` (with the caller's token) to the broker
 * service `svc.<name>`, for allowed names only; unlisted names answer 404 like unknown ones, so the
 * route reveals nothing about what runs behind it. `GET /v1/services`: which services have workers
 * (broker MMI) and the servers the reference server lists.
 */
export function registerServiceRoutes(app: FastifyInstance, upstream: Upstream, options: ServiceRouteOptions): void {
  app.post<{ Params: { name: string } }>('/v1/services/:name', async (request) => {
    const { name } = request.params;
    if (name.length > 64 || !SERVICE_NAME.test(name) || !options.allowed.has(name)) throw new NotFoundError(`no service ${JSON.stringify(name.slice(0, 64))} is open to HTTP callers`);
    const body = request.body as ServiceCallRequest | undefined;
    if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) throw new BadRequestError('the request body must be a JSON object: {action, params?, meta?}');
    if (typeof body.action !== 'string' || !body.action.startsWith(`${name}.`)) throw new BadRequestError(`action must be one of ${name}'s: ${name}.<method>`);
    return upstream.call(`svc.${name}`, 'service.call.request', body, bearerAuth(request));
  });

  app.get('/v1/services', async (request) => {
    const names = [options.chatService, ...[...options.allowed].map((name) => `svc.${name}`)];
    const services = await Promise.all(
      names.map(async (name) => ({
        name,
        available: await upstream.hasWorkers(name, options.probeTimeoutMs).catch(() => false),
        callable: name !== options.chatService,
      })),
    );
    const servers = await upstream.call('ref', 'ref.servers.request', {}, { ...bearerAuth(request) }).catch(() => null);
    return { services, servers };
  });
}
