// The browser chat (apps/web, built into apps/web/dist) served at /: hashed assets cached for a year,
// index.html revalidated on every load, and any other page path answered with index.html — never the
// API's paths, whose misses stay JSON 404s. Without a build, pages answer a 404 that says how to build.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** apps/web/dist, from this file in src/http or dist/http alike. */
export const defaultWebRoot = fileURLToPath(new URL('../../../web/dist', import.meta.url));

/** Paths of the gateway itself: the page fallback never answers them. */
const API_PATHS = /^\/(v1|docs|openapi\.json|health|metrics)(\/|\?|$)/;

const NOT_BUILT = 'The web app is not built. Run `npm run build` (or `npx nx build @correio/web`), then reload: `npm start` builds it first.';

/** Registers the static files; returns the handler for pages no route matched, or undefined for API misses. */
export async function registerWebApp(app: FastifyInstance, root: string): Promise<(request: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined> {
  const built = existsSync(join(root, 'index.html'));
  if (built) {
    await app.register(fastifyStatic, {
      root,
      prefix: '/',
      // Routes for the files present at start only, so nothing else is shadowed.
      wildcard: false,
      cacheControl: false,
      setHeaders: (reply, path) => {
        reply.header('cache-control', path.includes(`${join(root, 'assets')}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    });
  }
  return (request, reply) => {
    const isPage = (request.method === 'GET' || request.method === 'HEAD') && !API_PATHS.test(request.url) && (request.headers.accept ?? '').includes('text/html');
    if (!isPage) return undefined;
    if (!built) return reply.code(404).type('text/plain; charset=utf-8').send(NOT_BUILT);
    return reply.header('cache-control', 'no-cache').sendFile('index.html');
  };
}
