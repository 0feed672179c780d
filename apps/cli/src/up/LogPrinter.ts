import { formatLogLine } from './formatLogLine.js';

export type ColorMode = 'auto' | 'always' | 'never';

/** ANSI colours given to the components in turn (the supervisor's own lines are bold). */
const PALETTE = [36, 35, 33, 32, 34, 96, 95, 93, 92, 94, 91];

export interface LogPrinterOptions {
  readonly out?: NodeJS.WriteStream | NodeJS.WritableStream;
  readonly color?: ColorMode;
  /** Width of the `[name]` column. */
  readonly width?: number;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Interleaves the components' output on one terminal: every line prefixed with `[name]`, one
 * colour per component, pino's JSON lines shortened to `LEVEL message key=value`. On a terminal a
 * status line stays at the bottom and is redrawn in place; elsewhere (a pipe, a file, CI) it is
 * printed as an ordinary line and no colour is used. NO_COLOR turns colour off, as everywhere.
 */
export class LogPrinter {
  readonly #out: NodeJS.WritableStream;
  readonly #tty: boolean;
  readonly #color: boolean;
  readonly #colors = new Map<string, number>();
  #width: number;
  #status = '';

  constructor(options: LogPrinterOptions = {}) {
    this.#out = options.out ?? process.stdout;
    const env = options.env ?? process.env;
    this.#tty = (this.#out as NodeJS.WriteStream).isTTY === true;
    const mode = options.color ?? 'auto';
    this.#color = mode === 'always' || (mode === 'auto' && this.#tty && !env['NO_COLOR'] && env['TERM'] !== 'dumb');
    this.#width = options.width ?? 8;
  }

  get colored(): boolean {
    return this.#color;
  }

  /** Reserves colours in this order (dependency order reads best) and widens the name column. */
  register(names: readonly string[]): void {
    for (const name of names) {
      if (!this.#colors.has(name)) this.#colors.set(name, PALETTE[this.#colors.size % PALETTE.length]!);
      this.#width = Math.max(this.#width, name.length + 2);
    }
  }

  /** A line from a component. */
  line(name: string, text: string): void {
    this.#write(`${this.#prefix(name)} ${formatLogLine(text, this.#color)}`);
  }

  /** A line from `up` itself. */
  note(text: string): void {
    this.#write(`${this.#paint('[up]'.padEnd(this.#width), 1)} ${text}`);
  }

  /** The live summary: redrawn in place on a terminal, printed as a line elsewhere. */
  status(text: string): void {
    if (!this.#tty) {
      this.note(text);
      return;
    }
    this.#status = `${this.#paint('[up]'.padEnd(this.#width), 1)} ${this.#fit(text)}`;
    this.#out.write(`\r\x1b[2K${this.#status}`);
  }

  /** Removes the status line (before exiting). */
  clearStatus(): void {
    if (this.#tty && this.#status) this.#out.write('\r\x1b[2K');
    this.#status = '';
  }

  #write(line: string): void {
    if (this.#tty && this.#status) this.#out.write(`\r\x1b[2K${line}\n${this.#status}`);
    else this.#out.write(`${line}\n`);
  }

  /** A status line longer than the terminal would wrap and break the redraw: cut it. */
  #fit(text: string): string {
    const columns = (this.#out as NodeJS.WriteStream).columns;
    const room = columns ? columns - this.#width - 2 : Infinity;
    return text.length <= room ? text : `${text.slice(0, Math.max(0, room - 1))}…`;
  }

  #prefix(name: string): string {
    const code = this.#colors.get(name) ?? PALETTE[0]!;
    return this.#paint(`[${name}]`.padEnd(this.#width), code);
  }

  #paint(text: string, code: number): string {
    return this.#color ? `\x1b[${code}m${text}\x1b[0m` : text;
  }
}
