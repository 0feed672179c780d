import * as readline from 'node:readline';
import type { ChatSession, PasswordChange } from './ChatSession.js';
import { MutableOutput } from './MutableOutput.js';
import { passwordProblem, userNameProblem } from './names.js';
import { SeenOps } from './SeenOps.js';
import type { StampedSessionEvent } from './SessionEvent.js';
import { TerminalFormat } from './terminalFormat.js';

export interface TerminalUiOptions {
  readonly input?: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly output?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Colours; default: when the output is a terminal and NO_COLOR is unset. */
  readonly colour?: boolean;
}

/** How many times the name prompt asks again after an invalid name. */
const NAME_ATTEMPTS = 5;

/**
 * The interactive terminal, on Node's readline (line editing, history with the arrow keys, Ctrl-C
 * and Ctrl-D; no dependency needed). Incoming messages are printed *above* the prompt: the prompt
 * and whatever the user has typed so far are erased, the message is written, and the prompt is
 * drawn again with the half-typed line and the cursor where they were.
 */
export class TerminalUi {
  readonly #rl: readline.Interface;
  readonly #output: NodeJS.WritableStream;
  /** What readline writes through: muted while a password is typed. */
  readonly #echo: MutableOutput;
  readonly #terminal: boolean;
  readonly #format: TerminalFormat;
  /** Publications already on screen: our own come back live after the reply showed them. */
  readonly #shown = new SeenOps();
  #session: ChatSession | undefined;
  #prompting = false;
  #closed = false;
  /** Lines typed (or piped) before the session was ready: they run once it is. */
  readonly #early: string[] = [];
  #onInterrupt: (() => void) | undefined;
  #onEnd: (() => void) | undefined;
  #clock: () => number = () => 0;

  constructor(options: TerminalUiOptions = {}) {
    const input = options.input ?? process.stdin;
    const output = options.output ?? process.stdout;
    this.#output = output;
    this.#terminal = input.isTTY === true && output.isTTY === true;
    const colour = options.colour ?? (output.isTTY === true && !process.env['NO_COLOR']);
    this.#format = new TerminalFormat({ colour, me: () => this.#session?.user });
    this.#echo = new MutableOutput(output);
    this.#rl = readline.createInterface({ input, output: this.#echo, terminal: this.#terminal, historySize: 500, prompt: '> ' });
    this.#rl.on('line', (line) => {
      if (!this.#session) {
        this.#early.push(line);
        return;
      }
      // Draw the prompt again at once: the command runs in the background, its reply printed above.
      this.#showPrompt();
      void this.#session.submit(line);
    });
    // Ctrl-D or the end of piped input: what was typed runs, then the session ends.
    this.#rl.on('close', () => {
      this.#closed = true;
      if (this.#session) this.#endOfInput(this.#session);
    });
    // Ctrl-C in a terminal arrives here rather than as a process signal: it ends the session at once.
    this.#rl.on('SIGINT', () => (this.#onInterrupt ? this.#onInterrupt() : this.#rl.close()));
  }

  /** What Ctrl-C does from now on (until then it ends the input). */
  onInterrupt(handler: () => void): void {
    this.#onInterrupt = handler;
  }

  /** Asks for the user name until a valid one is typed; undefined when input ends first. */
  async askName(): Promise<string | undefined> {
    for (let attempt = 0; attempt < NAME_ATTEMPTS && !this.#closed; attempt += 1) {
      const name = (await this.#question('Your name: ')).trim();
      if (this.#closed && name === '') return undefined;
      const problem = userNameProblem(name);
      if (problem === undefined) return name;
      this.print([`error: ${problem}`]);
    }
    return undefined;
  }

  /** True when both ends are a terminal: a person is typing. */
  get interactive(): boolean {
    return this.#terminal;
  }

  /**
   * Asks for a password without showing it (nothing is echoed, not even stars); undefined when the
   * answer is empty or the input ends first. Only in a terminal: piped input is never read as one.
   */
  async askPassword(query = 'Password: '): Promise<string | undefined> {
    if (!this.#terminal || this.#closed) return undefined;
    // In a session, the question takes the prompt's place; messages arriving meanwhile are printed as they come.
    const prompting = this.#prompting;
    if (prompting) this.#erasePrompt();
    this.#prompting = false;
    this.#output.write(query);
    this.#echo.muted = true;
    let answer: string;
    try {
      answer = await this.#question('');
    } finally {
      this.#echo.muted = false;
      this.#output.write('\n');
      this.#prompting = prompting && !this.#closed;
      this.#showPrompt();
    }
    return answer === '' ? undefined : answer;
  }

  /** /password's questions: the current password, the new one and the new one again, none shown. */
  async askPasswords(): Promise<PasswordChange> {
    if (!this.#terminal) return { problem: '/password needs a terminal: it asks for the passwords without showing them' };
    const current = await this.askPassword('Current password: ');
    if (current === undefined) return { problem: 'no password given: nothing changed' };
    const next = await this.askPassword('New password (8+ characters): ');
    if (next === undefined) return { problem: 'no new password given: nothing changed' };
    const problem = passwordProblem(next);
    if (problem !== undefined) return { problem: `${problem}: nothing changed` };
    if ((await this.askPassword('New password again: ')) !== next) return { problem: 'the new passwords differ: nothing changed' };
    return { current, next };
  }

  /**
   * Starts running command lines in the session (those typed meanwhile first). `clock` reads the
   * client's Lamport clock for the prompt; `onEnd` runs once the input ended and its lines ran.
   */
  attach(session: ChatSession, clock: () => number, onEnd: () => void): void {
    this.#session = session;
    this.#clock = clock;
    this.#onEnd = onEnd;
    this.#prompting = !this.#closed;
    this.#showPrompt();
    for (const line of this.#early.splice(0)) void session.submit(line);
    if (this.#closed) this.#endOfInput(session);
  }

  #endOfInput(session: ChatSession): void {
    void session.idle().then(() => this.#onEnd?.());
  }

  /** Shows one session event. */
  show(event: StampedSessionEvent): void {
    if ((event.event === 'publication' || event.event === 'published') && !this.#shown.add(event.op)) return;
    if (event.event === 'joined' || event.event === 'history') for (const message of event.messages) this.#shown.add(message.op);
    // The last words: the prompt goes away for good.
    this.print(this.#format.lines(event), { prompt: event.event !== 'bye' });
  }

  /** Prints lines above the prompt, keeping the prompt and the line being typed intact. */
  print(lines: readonly string[], options: { readonly prompt?: boolean } = {}): void {
    if (lines.length === 0) return;
    const text = `${lines.join('\n')}\n`;
    if (!this.#terminal || !this.#prompting || this.#closed) {
      this.#output.write(text);
      return;
    }
    this.#erasePrompt();
    this.#output.write(text);
    if (options.prompt === false) {
      this.#prompting = false;
      return;
    }
    this.#rl.setPrompt(this.#promptText());
    this.#rl.prompt(true);
  }

  /** Clears the prompt and the line being typed, leaving the cursor where the prompt began. */
  #erasePrompt(): void {
    const { rows } = this.#rl.getCursorPos();
    readline.moveCursor(this.#output, 0, -rows);
    readline.cursorTo(this.#output, 0);
    readline.clearScreenDown(this.#output);
  }

  close(): void {
    this.#prompting = false;
    if (!this.#closed) this.#rl.close();
  }

  #showPrompt(): void {
    if (this.#closed || !this.#prompting) return;
    this.#rl.setPrompt(this.#promptText());
    this.#rl.prompt(true);
  }

  /** `ana #general (lc 17)> `: who I am, where plain lines go, my Lamport clock. */
  #promptText(): string {
    const session = this.#session;
    if (!session) return '> ';
    const channel = session.channel !== undefined ? ` #${session.channel}` : '';
    return `${session.user ?? ''}${channel} (lc ${this.#clock()})> `;
  }

  #question(query: string): Promise<string> {
    return new Promise((resolve) => {
      if (this.#closed) {
        resolve('');
        return;
      }
      const onClose = (): void => resolve('');
      this.#rl.once('close', onClose);
      this.#rl.question(query, (answer) => {
        this.#rl.off('close', onClose);
        resolve(answer);
      });
    });
  }
}
