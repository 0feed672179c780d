import { LAMPORT_ROOM, LamportClock, MAX_CLOCK_VALUE as MAX_LAMPORT, MAX_MERGED_LAMPORT } from '@correio/clocks';
import type { Logger } from '@correio/observability';
import { FileClockStore } from './FileClockStore.js';

/**
 * A mark with fewer than 2^31 values left. Received values never lift a clock above
 * MAX_MERGED_LAMPORT, 2^32 below the ceiling, so only 2^31 local ticks beyond it could write such a
 * mark honestly; an older version wrote one after a single hostile request (issue 22).
 */
const POISONED_ABOVE = MAX_LAMPORT - LAMPORT_ROOM / 2;

/**
 * The server's Lamport clock over `<dataDir>/lamport.json`, resumed past `storedLc` (the largest
 * clock among the stored operations). A mark above POISONED_ABOVE leaves no room to tick: an older
 * version, which let one received value lift its clock to 2^53 − 1, wrote it. Such a mark is
 * repaired, loudly: the clock resumes from the store's newest
 * operation, which is what orders every stored operation, and no stored operation is touched.
 * Replies that older version stamped above that are forgotten; they were stamped with values a
 * hostile request chose, so no honest order depends on them.
 */
export function openLamportClock(dataDir: string, storedLc: number, logger: Logger): LamportClock {
  const file = new FileClockStore(dataDir);
  const mark = file.load();
  if (mark !== undefined && mark > POISONED_ABOVE) {
    const resumeAt = Math.min(storedLc, MAX_MERGED_LAMPORT);
    file.save(resumeAt);
    logger.error(
      { path: file.path, poisonedMark: mark, resumeAt, storedLc },
      `REPAIRED the Lamport mark in ${file.path}: ${mark} left no room to tick (an older version let a received clock lift it); resuming from ${resumeAt}, the newest stored operation's clock. No stored operation was changed.`,
    );
  }
  // A large reserve: every server observes the whole cluster's Lamport traffic, and each save is an
  // fsync on the event loop; a restart skips at most this many values, which Lamport order does not mind.
  const lamport = new LamportClock({ store: file, reserve: 100_000 });
  if (!lamport.resume(storedLc)) {
    logger.warn(
      { storedLc, resumeAt: lamport.value },
      `the store holds an operation stamped lc ${storedLc}, with no room left to tick after it (written by an older version); this clock resumes at ${lamport.value}, so new operations carry smaller lc values (their order, by HLC, is unaffected)`,
    );
  }
  return lamport;
}
