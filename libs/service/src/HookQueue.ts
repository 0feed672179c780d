import type { Logger } from 'pino';

/**
 * Runs hooks one at a time, in the order they were queued, each awaited before the next starts:
 * onServiceDown(x) never overtakes onServiceUp(x), and a slow hook delays the others instead of
 * interleaving with them. A hook that throws is logged; the queue goes on.
 */
export class HookQueue {
  #tail: Promise<void> = Promise.resolve();

  constructor(private readonly logger: Logger) {}

  push(name: string, hook: () => unknown): void {
    this.#tail = this.#tail.then(async () => {
      try {
        await hook();
      } catch (error) {
        this.logger.error({ hook: name, err: error }, 'a lifecycle hook threw; continuing');
      }
    });
  }

  /** Resolves when every hook queued so far has run. */
  idle(): Promise<void> {
    return this.#tail;
  }
}
