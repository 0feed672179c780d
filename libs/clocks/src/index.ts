export { type TimeSource, systemTime } from './TimeSource.js';
export { ManualTime } from './ManualTime.js';
export { skewedTime, type SkewedTimeOptions } from './skewedTime.js';
export { SynchronizedTime, type SynchronizedTimeOptions } from './SynchronizedTime.js';

export { LamportClock, type LamportClockOptions, type LamportClockStats } from './LamportClock.js';
export { LamportExhaustedError, LAMPORT_ROOM, MAX_MERGED_LAMPORT, type LamportBoundsOptions } from '@correio/protocol';
export { type ClockStore } from './ClockStore.js';
export { InMemoryClockStore } from './InMemoryClockStore.js';

export { type Hlc, type HlcWire, compareHlc, encodeHlc, decodeHlc } from './Hlc.js';
export { HybridLogicalClock, type HybridLogicalClockOptions } from './HybridLogicalClock.js';
export { ClockDriftError } from './ClockDriftError.js';

export type { ClockPollRequestBody, ClockPollReplyBody, ClockAdjustRequestBody, ClockAdjustReplyBody } from './berkeleyMessages.js';
export {
  BerkeleyCoordinator,
  type BerkeleyCoordinatorOptions,
  type BerkeleyRoundStart,
  type BerkeleyRoundResult,
  type PollTiming,
  type ReplyVerdict,
  type ClockStatus,
  type ClockMeasurement,
} from './BerkeleyCoordinator.js';
export { BerkeleyParticipant, BerkeleyRoundError, type BerkeleyParticipantOptions } from './BerkeleyParticipant.js';

export { MAX_CLOCK_VALUE, MAX_HLC_LOGICAL, MAX_RECEIVED_HLC_LOGICAL } from './limits.js';
