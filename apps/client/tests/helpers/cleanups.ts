import { afterEach } from 'vitest';

/** How to stop what a test started, one function per thing. */
export type Cleanups = (() => Promise<unknown>)[];

/**
 * The stoppers of what each test starts: after each test of the calling file they run, the last
 * started first, even when the test failed. Call once at the top of a test file.
 */
export function cleanupAfterEach(): Cleanups {
  const cleanups: Cleanups = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return cleanups;
}
