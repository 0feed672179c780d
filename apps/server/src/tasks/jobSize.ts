import { DEFAULT_LIMITS, Encoder, encode } from '@correio/codec';
import type { TaskJob } from '@correio/protocol';

/**
 * A job travels inside other messages — a lease reply, a copy, a page of a list — where it sits
 * three levels below the envelope (envelope, body, jobs) and shares the codec's 1 MiB with the rest:
 * a job is kept only if it still encodes there, or one oversized or overdeep job would make every
 * lease of its queue fail. Enqueue refuses such a job; a result or workflow arguments that would
 * make one fail the job instead.
 */
export const MAX_JOB_BYTES = 900 * 1024;
/** Jobs per lease reply, copy or list page: at most this many bytes of them (beyond the first). */
export const MAX_BATCH_BYTES = 900 * 1024;
const NESTING_ABOVE_A_JOB = 3;

const encoder = new Encoder({ maxDepth: DEFAULT_LIMITS.maxDepth - NESTING_ABOVE_A_JOB });

/**
 * Encodings already made, by job object (jobs are never changed in place: a change is a new
 * object): a job is encoded once for its size check, its store write and its copy's batching.
 */
const encodings = new WeakMap<TaskJob, Uint8Array | { problem: string }>();

/** The job encoded as inside a message, or why it cannot be; made once per job object. */
function encoded(job: TaskJob): Uint8Array | { problem: string } {
  let made = encodings.get(job);
  if (made !== undefined) return made;
  try {
    made = encoder.encode(job);
  } catch (error) {
    made = { problem: (error as Error).message };
  }
  encodings.set(job, made);
  return made;
}

/** The job's encoded size, or why it cannot travel inside another message. */
export function jobSize(job: TaskJob): { bytes: number } | { problem: string } {
  const made = encoded(job);
  if (!(made instanceof Uint8Array)) return made;
  return made.length > MAX_JOB_BYTES ? { problem: `it would take ${made.length} bytes encoded, more than the ${MAX_JOB_BYTES} a job may` } : { bytes: made.length };
}

/**
 * The bytes the store keeps for a job: the encoding its size check made (the same canonical
 * MessagePack), or a fresh one for a job too deep to travel, which the store still keeps.
 */
export function storedBytes(job: TaskJob): Uint8Array {
  const made = encoded(job);
  return made instanceof Uint8Array ? made : encode(job);
}
