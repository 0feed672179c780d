// Reads the newest log lines (and the Tasks panel its jobs) every 2 s while the page is visible: one
// read at a time (the next is scheduled when the last ends), none while the tab is hidden, a changed
// query read at once.

export const LOG_POLL_MS = 2000;

const hidden = () => document.visibilityState === 'hidden';

export interface LogPollerListener<T> {
  reply(reply: T): void;
  error(error: unknown): void;
}

export class LogPoller<T> {
  private query: string | undefined;
  private reading = false;
  /** The query changed during a read: read again as soon as it ends. */
  private again = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = true;
  private readonly onVisibility = () => (hidden() ? this.cancelTimer() : void this.poll());

  constructor(
    private readonly read: (query: string) => Promise<T>,
    private readonly listener: LogPollerListener<T>,
  ) {}

  start(query: string): void {
    this.query = query;
    this.stopped = false;
    document.addEventListener('visibilitychange', this.onVisibility);
    void this.poll();
  }

  /** A new query: its first page is read now (or when the read under way ends); replies to the old one are dropped. */
  setQuery(query: string): void {
    if (query === this.query) return;
    this.query = query;
    void this.poll();
  }

  /** Reads the current query again now (or when the read under way ends): after a change the reader made. */
  refresh(): void {
    void this.poll();
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer();
    document.removeEventListener('visibilitychange', this.onVisibility);
  }

  private async poll(): Promise<void> {
    this.cancelTimer();
    if (this.stopped || this.query === undefined || hidden()) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    const query = this.query;
    this.reading = true;
    try {
      const reply = await this.read(query);
      if (!this.stopped && query === this.query) this.listener.reply(reply);
    } catch (error) {
      if (!this.stopped && query === this.query) this.listener.error(error);
    } finally {
      this.reading = false;
      const again = this.again;
      this.again = false;
      if (again) void this.poll();
      else if (!this.stopped && !hidden()) this.timer = setTimeout(() => void this.poll(), LOG_POLL_MS);
    }
  }

  private cancelTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
