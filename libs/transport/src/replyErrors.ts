import { BadRequestError, CorreioError, type CorreioErrorOptions } from '@correio/codec';
import { MESSAGE_INFO, type MessageType } from '@correio/protocol';

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

/** The reply type a request type declares (`x-correio-reply`); BadRequestError for a type that declares none. */
export function declaredReplyType(type: MessageType): MessageType {
  const replyType = MESSAGE_INFO[type]?.reply;
  if (replyType === undefined) throw new BadRequestError(`${type} is not a request type: it declares no reply`, { data: { type } });
  return replyType;
}

/** True when a reply of type `got` can answer a request declaring `expected`: that type, or `error` as the FINAL. */
export function answers(expected: MessageType, got: MessageType, kind: 'partial' | 'final'): boolean {
  return got === expected || (kind === 'final' && got === 'error');
}
