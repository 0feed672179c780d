import * as readline from 'node:readline';
import type { ChatSession } from './ChatSession.js';
import type { StampedSessionEvent } from './SessionEvent.js';

export interface JsonUiOptions {
  readonly input?: NodeJS.ReadableStream;
  readonly output?: NodeJS.WritableStream;
}

/** Command lines waiting to run before reading stdin pauses (backpressure for fast producers). */
const MAX_BACKLOG = 64;

/**
 * `--json`: command lines on stdin (the same commands as the terminal), one JSON object per event
 * on stdout, nothing else on stdout. The end of input runs what is queued, then ends the session.
 */
export class JsonUi {
  readonly #input: NodeJS.ReadableStream;
  readonly #output: NodeJS.WritableStream;
  #rl: readline.Interface | undefined;

  constructor(options: JsonUiOptions = {}) {
    this.#input = options.input ?? process.stdin;
    this.#output = options.output ?? process.stdout;
  }

  show(event: StampedSessionEvent): void {
    this.#output.write(`${JSON.stringify(event)}\n`);
  }

  /** Feeds stdin lines to the session; `onEnd` runs once input ended and every line has run. */
  attach(session: ChatSession, onEnd: () => void): void {
    const rl = readline.createInterface({ input: this.#input, terminal: false, crlfDelay: Infinity });
    this.#rl = rl;
    let paused = false;
    rl.on('line', (line) => {
      void session.submit(line).then(() => {
        if (paused && session.pending < MAX_BACKLOG / 2) {
          paused = false;
          rl.resume();
        }
      });
      if (!paused && session.pending >= MAX_BACKLOG) {
        paused = true;
        rl.pause();
      }
    });
    rl.once('close', () => void session.idle().then(onEnd));
  }

  close(): void {
    this.#rl?.close();
  }
}
