import { CorreioError, type WireError } from '@correio/codec';
import type { ErrorCode } from '@correio/protocol';

/** The HTTP status of each protocol error code. */
const STATUS: Readonly<Record<ErrorCode, number>> = {
  DECODE: 400,
  VALIDATION: 400,
  BAD_REQUEST: 400,
  UNSUPPORTED_VERSION: 400,
  UNKNOWN_TYPE: 400,
  TOO_LARGE: 413,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  UNKNOWN_SERVICE: 404,
  CONFLICT: 409,
  OVERLOADED: 503,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
  INTERNAL: 500,
};

/** An error as the gateway answers it: status, body (the protocol's error shape) and a Retry-After when one is known. */
export interface HttpError {
  readonly status: number;
  readonly body: WireError;
  /** Seconds. */
  readonly retryAfter?: number;
}

/** Turns anything thrown on the way to the cluster into the HTTP answer for it. */
export function httpError(error: unknown): HttpError {
  const correio = CorreioError.from(error);
  const body = correio.toWire();
  const status = STATUS[correio.code] ?? 500;
  const retryAfterMs = typeof correio.data?.['retry_after_ms'] === 'number' ? correio.data['retry_after_ms'] : undefined;
  const retryAfter = retryAfterMs !== undefined ? Math.max(1, Math.ceil(retryAfterMs / 1000)) : status === 503 ? 1 : undefined;
  return { status, body, ...(retryAfter !== undefined ? { retryAfter } : {}) };
}

/** The error body of a refusal the gateway makes itself (rate limits, size limits, unknown routes). */
export function gatewayError(code: ErrorCode, message: string, retryable = false, data?: Record<string, unknown>): WireError {
  return { code, message, retryable, ...(data ? { data } : {}) };
}
