import { CorreioError, newRequestId } from '@correio/codec';
import type { AnyEnvelope, BodyOf, MessageType } from '@correio/protocol';
import type { RequestClient } from '@correio/transport';

export interface IdempotentRequestOptions {
  /** Per-attempt timeout, ms. Timeouts are not retried here: callers run their own loops. */
  readonly timeout: number;
  /** Attempts in all when the reply is OVERLOADED. Default 3. */
  readonly attempts?: number;
  /** Pause before the next attempt, times the attempt number, ms. Default 20. */
  readonly pauseMs?: number;
}

/**
 * Sends a request that is safe to repeat (every ref.* and election request is) and repeats it,
 * with the same id, when the answer is OVERLOADED: a full queue or a worker connection that was
 * still busy, which a moment later will not be. Any other failure is thrown at once.
 */
export async function requestIdempotent<T extends MessageType>(
  client: RequestClient,
  service: string,
  type: T,
  body: BodyOf<T>,
  options: IdempotentRequestOptions,
): Promise<AnyEnvelope> {
  const attempts = options.attempts ?? 3;
  const pauseMs = options.pauseMs ?? 20;
  const id = newRequestId();
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.request(service, type, body, { timeout: options.timeout, retries: 0, id });
    } catch (error) {
      if (!(error instanceof CorreioError) || error.code !== 'OVERLOADED' || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, pauseMs * attempt));
    }
  }
}
