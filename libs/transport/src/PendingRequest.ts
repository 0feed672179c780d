import type { AnyEnvelope, MessageType } from '@correio/protocol';
import { answers } from './replyErrors.js';

/** How one wait of a pending request ended. */
export type WaitOutcome = { readonly kind: 'reply'; readonly reply: AnyEnvelope } | { readonly kind: 'expired' } | { readonly kind: 'failed'; readonly error: Error };

/**
 * One request in flight on the MDP client: the receive loop delivers its replies here, the
 * requesting call waits here, attempt after attempt. A reply that arrives while nobody waits (late
 * reply during a retry's backoff) is kept and returned by the next wait, so it is never lost.
 */
export class PendingRequest {
  #stored: WaitOutcome | undefined;
  #wake: ((outcome: WaitOutcome) => void) | undefined;
  #restartTimer: (() => void) | undefined;

  constructor(
    readonly service: string,
    /** The request's type, and the reply type it declares (`x-correio-reply`). */
    readonly type: MessageType,
    readonly replyType: MessageType,
    readonly onPartial?: (reply: AnyEnvelope) => void,
  ) {}

  /** True when a reply of `type` can answer this request: its declared reply type, or `error` as the FINAL. */
  accepts(type: MessageType, kind: 'partial' | 'final'): boolean {
    return answers(this.replyType, type, kind);
  }

  /** A FINAL reply arrived. */
  deliver(reply: AnyEnvelope): void {
    this.#settle({ kind: 'reply', reply });
  }

  /** A PARTIAL reply arrived: the peer is alive, so the current wait starts over. */
  touch(): void {
    this.#restartTimer?.();
  }

  /** The request cannot complete (client closed, or its reply is unusable). */
  fail(error: Error): void {
    this.#settle({ kind: 'failed', error });
  }

  /** Waits up to `ms` for a reply; resolves `expired` when none came, `failed` when the signal aborts. */
  wait(ms: number, signal?: AbortSignal): Promise<WaitOutcome> {
    if (this.#stored) {
      const stored = this.#stored;
      this.#stored = undefined;
      return Promise.resolve(stored);
    }
    if (signal?.aborted) return Promise.resolve({ kind: 'failed', error: abortError(signal) });
    return new Promise((resolve) => {
      let timer = setTimeout(() => finish({ kind: 'expired' }), ms);
      const onAbort = (): void => finish({ kind: 'failed', error: abortError(signal!) });
      const finish = (outcome: WaitOutcome): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#wake = undefined;
        this.#restartTimer = undefined;
        resolve(outcome);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#wake = finish;
      this.#restartTimer = () => {
        clearTimeout(timer);
        timer = setTimeout(() => finish({ kind: 'expired' }), ms);
      };
    });
  }

  #settle(outcome: WaitOutcome): void {
    if (this.#wake) this.#wake(outcome);
    else if (this.#stored?.kind !== 'failed') this.#stored = outcome;
  }
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('The request was aborted', 'AbortError');
}
