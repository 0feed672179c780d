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

/** The job's encoded size, or why it cannot travel inside another message. */
export function jobSize(job: TaskJob): { bytes: number } | { problem: string } {
  try {
    const bytes = encoder.encode(job).length;
    return bytes > MAX_JOB_BYTES ? { problem: `it would take ${bytes} bytes encoded, more than the ${MAX_JOB_BYTES} a job may` } : { bytes };
  } catch (error) {
    return { problem: (error as Error).message };
  }
}
