import { BadRequestError, UnauthenticatedError } from '@correio/codec';
import type { FastifyRequest } from 'fastify';
import { bearerToken } from './bearer.js';

/** The call context of an HTTP request: its bearer token as `auth`, its Idempotency-Key as the request id. */
export function bearerAuth(request: FastifyRequest): { auth?: string; id?: string } {
  const token = bearerToken(request.headers.authorization);
  if (token === null) throw new UnauthenticatedError('the Authorization header must be "Bearer <access token>" with a compact JWS token', { retryable: false });
  const key = request.headers['idempotency-key'];
  if (key !== undefined && (typeof key !== 'string' || !/^[0-9A-Za-z_-]{1,64}$/.test(key))) {
    throw new BadRequestError('Idempotency-Key must be 1 to 64 characters of [0-9A-Za-z_-]');
  }
  return { ...(token !== undefined ? { auth: token } : {}), ...(key !== undefined ? { id: key } : {}) };
}
