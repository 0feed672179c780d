/** Told a program's readiness line once it is printed. */
export type ReadyListener = (line: string) => void;

const listeners = new Set<ReadyListener>();

/**
 * Prints a program's readiness line (`broker ready tcp://127.0.0.1:5555 …`) on stdout, the line a
 * supervisor waits for, and tells listeners in this process: the endpoints it names may only be
 * known now (a port picked by the system).
 */
export function announceReady(line: string): void {
  process.stdout.write(`${line}\n`);
  for (const listener of listeners) {
    try {
      listener(line);
    } catch {
      // A listener's failure is its own; the program is ready all the same.
    }
  }
}

/** Calls `listener` with each readiness line this process announces; returns the unsubscribe function. */
export function onReady(listener: ReadyListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
