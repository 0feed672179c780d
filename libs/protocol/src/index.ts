export type * from './generated/types.js';
export {
  PROTOCOL_VERSION,
  PROTOCOL_REVISION,
  ERROR_CODES,
  MESSAGE_TYPES,
  MESSAGE_INFO,
  type MessageMap,
  type MessageType,
  type MessageInfo,
  type BodyOf,
  type Envelope,
  type AnyEnvelope,
} from './generated/catalogue.js';
export { validateEnvelope, BODY_VALIDATORS, type Validator } from './generated/validator-index.js';

import type { ErrorReply } from './generated/types.js';
/** One of the protocol's error codes. */
export type ErrorCode = ErrorReply['code'];
export {
  MAX_LAMPORT,
  LAMPORT_ROOM,
  MAX_MERGED_LAMPORT,
  LamportBounds,
  LamportExhaustedError,
  mergeLamport,
  type LamportBoundsOptions,
  type LamportInput,
} from './lamportBounds.js';
