import { DEFAULT_LIMITS, Encoder } from '@correio/codec';
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

/** Sizes already measured, by job object: a settled job is measured once for the check and again by its copy's batching. */
const measured = new WeakMap<TaskJob, { bytes: number } | { problem: string }>();

/** Notes the size of a job the store has just encoded (its encoding is the same): its copy's batching need not encode it again. */
export function rememberSize(job: TaskJob, bytes: number): void {
  if (bytes <= MAX_JOB_BYTES && !measured.has(job)) measured.set(job, { bytes });
}

/** The job's encoded size, or why it cannot travel inside another message. */
export function jobSize(job: TaskJob): { bytes: number } | { problem: string } {
  let size = measured.get(job);
  if (size !== undefined) return size;
  try {
    const bytes = encoder.encode(job).length;
    size = bytes > MAX_JOB_BYTES ? { problem: `it would take ${bytes} bytes encoded, more than the ${MAX_JOB_BYTES} a job may` } : { bytes };
  } catch (error) {
    size = { problem: (error as Error).message };
  }
  measured.set(job, size);
  return size;
}
