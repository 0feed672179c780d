import { ERROR_CODES, type ErrorCode, type ErrorReply as WireError } from '@correio/protocol';

export type { ErrorCode, WireError };

/** Codes whose requests may succeed when sent again with the same id (protocol/ENCODING.md §5). */
const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['TIMEOUT', 'UNAVAILABLE', 'OVERLOADED', 'INTERNAL']);

export interface CorreioErrorOptions extends ErrorOptions {
  /** Structured details that travel with the error. */
  readonly data?: Record<string, unknown>;
  /** Overrides the code's default retryability. */
  readonly retryable?: boolean;
}

/** The base of every error Correio raises or carries over the wire. */
export class CorreioError extends Error {
  override name = 'CorreioError';
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly data: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: CorreioErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE_CODES.has(code);
    this.data = options.data;
  }

  /** The body of an `error` message for this error. */
  toWire(): WireError {
    const wire: WireError = { code: this.code, message: wireMessage(this.message), retryable: this.retryable };
    if (this.data !== undefined) wire.data = this.data;
    return wire;
  }

  /** Rebuilds the typed error that a peer sent as the body of an `error` message. */
  static fromWire(wire: WireError): CorreioError {
    const ErrorClass = ERROR_CLASSES[wire.code] ?? CorreioError;
    const options: CorreioErrorOptions = { retryable: wire.retryable, ...(wire.data ? { data: wire.data } : {}) };
    return ErrorClass === CorreioError
      ? new CorreioError(wire.code, wire.message, options)
      : new (ErrorClass as new (message: string, options?: CorreioErrorOptions) => CorreioError)(wire.message, options);
  }

  /** Wraps anything thrown into a CorreioError; unknown failures become INTERNAL. */
  static from(error: unknown): CorreioError {
    if (error instanceof CorreioError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new InternalError(message, { cause: error });
  }
}

/** error.json's message limit, in code points. */
const MAX_WIRE_MESSAGE = 1000;

/**
 * The message as an error body can carry it: lone surrogates (which have no UTF-8 form, so the
 * encoder refuses them) become U+FFFD, and the text is cut to MAX_WIRE_MESSAGE code points, never
 * inside a surrogate pair.
 */
function wireMessage(message: string): string {
  const wellFormed = message.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  let units = 0;
  for (let points = 0; points < MAX_WIRE_MESSAGE && units < wellFormed.length; points++) {
    const unit = wellFormed.charCodeAt(units);
    units += unit >= 0xd800 && unit <= 0xdbff ? 2 : 1;
  }
  return wellFormed.slice(0, units);
}

/** Defines a CorreioError subclass bound to one code, so each failure has its own class and name. */
function errorClass<C extends ErrorCode>(code: C, name: string) {
  const Bound = class extends CorreioError {
    override name = name;
    constructor(message: string, options: CorreioErrorOptions = {}) {
      super(code, message, options);
    }
  };
  Object.defineProperty(Bound, 'name', { value: name });
  return Bound;
}

/** The bytes are not valid canonical-subset MessagePack. */
export const DecodeError = errorClass('DECODE', 'DecodeError');
export type DecodeError = InstanceType<typeof DecodeError>;
/** A size limit was exceeded. */
export const TooLargeError = errorClass('TOO_LARGE', 'TooLargeError');
export type TooLargeError = InstanceType<typeof TooLargeError>;
/** An envelope or body does not match its schema; `data.path` names the field. */
export const ValidationError = errorClass('VALIDATION', 'ValidationError');
export type ValidationError = InstanceType<typeof ValidationError>;
/** The envelope's version is not one this peer speaks. */
export const UnsupportedVersionError = errorClass('UNSUPPORTED_VERSION', 'UnsupportedVersionError');
export type UnsupportedVersionError = InstanceType<typeof UnsupportedVersionError>;
/** The envelope's type is not a known message type. */
export const UnknownTypeError = errorClass('UNKNOWN_TYPE', 'UnknownTypeError');
export type UnknownTypeError = InstanceType<typeof UnknownTypeError>;
/** Well formed, but not acceptable to the service. */
export const BadRequestError = errorClass('BAD_REQUEST', 'BadRequestError');
export type BadRequestError = InstanceType<typeof BadRequestError>;
/** The addressed thing does not exist. */
export const NotFoundError = errorClass('NOT_FOUND', 'NotFoundError');
export type NotFoundError = InstanceType<typeof NotFoundError>;
/** The request conflicts with existing state. */
export const ConflictError = errorClass('CONFLICT', 'ConflictError');
export type ConflictError = InstanceType<typeof ConflictError>;
/** No worker has ever registered the service. */
export const UnknownServiceError = errorClass('UNKNOWN_SERVICE', 'UnknownServiceError');
export type UnknownServiceError = InstanceType<typeof UnknownServiceError>;
/** No reply in time. Retryable. */
export const TimeoutError = errorClass('TIMEOUT', 'TimeoutError');
export type TimeoutError = InstanceType<typeof TimeoutError>;
/** The service or broker cannot take the request now. Retryable. */
export const UnavailableError = errorClass('UNAVAILABLE', 'UnavailableError');
export type UnavailableError = InstanceType<typeof UnavailableError>;
/** A queue or concurrency limit is full. Retryable. */
export const OverloadedError = errorClass('OVERLOADED', 'OverloadedError');
export type OverloadedError = InstanceType<typeof OverloadedError>;
/** The peer failed while serving. Retryable with the same request id. */
export const InternalError = errorClass('INTERNAL', 'InternalError');
export type InternalError = InstanceType<typeof InternalError>;

/** No valid token where one is needed, or a wrong password (revision 1.1). */
export const UnauthenticatedError = errorClass('UNAUTHENTICATED', 'UnauthenticatedError');
export type UnauthenticatedError = InstanceType<typeof UnauthenticatedError>;

/** A valid token whose user may not do this, such as act as another user (revision 1.1). */
export const ForbiddenError = errorClass('FORBIDDEN', 'ForbiddenError');
export type ForbiddenError = InstanceType<typeof ForbiddenError>;

const ERROR_CLASSES: Partial<Record<ErrorCode, typeof CorreioError | ReturnType<typeof errorClass>>> = {
  DECODE: DecodeError,
  TOO_LARGE: TooLargeError,
  VALIDATION: ValidationError,
  UNSUPPORTED_VERSION: UnsupportedVersionError,
  UNKNOWN_TYPE: UnknownTypeError,
  BAD_REQUEST: BadRequestError,
  NOT_FOUND: NotFoundError,
  CONFLICT: ConflictError,
  UNKNOWN_SERVICE: UnknownServiceError,
  TIMEOUT: TimeoutError,
  UNAVAILABLE: UnavailableError,
  OVERLOADED: OverloadedError,
  INTERNAL: InternalError,
  UNAUTHENTICATED: UnauthenticatedError,
  FORBIDDEN: ForbiddenError,
};

/** True when `code` is one of the protocol's error codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code);
}
