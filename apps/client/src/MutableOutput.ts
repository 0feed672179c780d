import { Writable } from 'node:stream';

type Terminal = NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };

/**
 * The terminal's output with an off switch. Readline echoes every key typed through its output, so
 * muting this one while a password is typed keeps the password off the screen; it passes on the
 * terminal's size (readline lays out lines by it) and its resize events.
 */
export class MutableOutput extends Writable {
  muted = false;
  readonly #target: Terminal;

  constructor(target: Terminal) {
    super({ decodeStrings: false });
    this.#target = target;
    target.on('resize', () => this.emit('resize'));
  }

  get isTTY(): boolean | undefined {
    return this.#target.isTTY;
  }

  get columns(): number | undefined {
    return this.#target.columns;
  }

  get rows(): number | undefined {
    return this.#target.rows;
  }

  override _write(chunk: string | Uint8Array, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!this.muted) this.#target.write(chunk);
    callback();
  }
}
