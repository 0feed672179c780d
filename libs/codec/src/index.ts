export { Encoder, encode, compareCodePoints, type EncoderOptions } from './Encoder.js';
export { Decoder, decode } from './Decoder.js';
export { MessageCodec, checkEnvelope, newRequestId, type MessageCodecOptions } from './MessageCodec.js';
export { DEFAULT_LIMITS, resolveLimits, type Limits } from './limits.js';
export {
  CorreioError,
  DecodeError,
  TooLargeError,
  ValidationError,
  UnsupportedVersionError,
  UnknownTypeError,
  BadRequestError,
  NotFoundError,
  ConflictError,
  UnknownServiceError,
  TimeoutError,
  UnavailableError,
  OverloadedError,
  InternalError,
  UnauthenticatedError,
  ForbiddenError,
  isErrorCode,
  type CorreioErrorOptions,
  type ErrorCode,
  type WireError,
} from './errors.js';
