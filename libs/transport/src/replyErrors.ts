import { CorreioError, type CorreioErrorOptions } from '@correio/codec';

/**
 * A reply whose type is neither the one its request declares (`x-correio-reply`) nor `error`: a
 * peer that echoes requests back or mixes up its answers. Code VALIDATION, not retryable.
 */
export class UnexpectedReplyError extends CorreioError {
  override name = 'UnexpectedReplyError';

  constructor(message: string, options: CorreioErrorOptions = {}) {
    super('VALIDATION', message, { retryable: false, ...options });
  }
}

/**
 * A reply that is not an envelope: bytes that are not MessagePack, or a value that is not a valid
 * envelope (the codec's own error is the `cause`). Code DECODE, not retryable.
 */
export class MalformedReplyError extends CorreioError {
  override name = 'MalformedReplyError';

  constructor(message: string, options: CorreioErrorOptions = {}) {
    super('DECODE', message, { retryable: false, ...options });
  }
}
