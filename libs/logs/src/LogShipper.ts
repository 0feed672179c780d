import { randomBytes } from 'node:crypto';
import { CorreioError } from '@correio/codec';
import { addLogTap } from '@correio/observability';
import type { LogLine } from '@correio/protocol';
import { RequestClient, type SocketOptions } from '@correio/transport';
import { Backlog } from './Backlog.js';
import { toLogLine } from './logLine.js';

export interface LogShipperOptions {
  /**
   * The broker endpoint(s) through which the `logs` service answers. Absent: lines wait in the
   * backlog until `connect` names it (a broker learns its own endpoint once it binds).
   */
  readonly broker?: string | readonly string[];
  /** The kind of program (protocol defs.json logProgram): `server`, `gateway`, … */
  readonly program: string;
  /** This program's node id, or another id unique among running programs. */
  readonly instance: string;
  /** Socket options (CURVE keys). */
  readonly socket?: SocketOptions;
  /** Lines kept while the service is away, at most. Default 10,000. */
  readonly backlogLines?: number;
  /** Characters (messages and fields) kept while the service is away, at most. Default 8,000,000. */
  readonly backlogChars?: number;
  /** Ms between shipments while lines trickle in. Default 200. */
  readonly intervalMs?: number;
  /**
   * Ms a shipment may take before it is sent again. Default 15,000: a server that dies answers
   * sooner (the broker fails its request), and a loaded service that is merely slow would only be
   * sent the same lines again.
   */
  readonly timeoutMs?: number;
  /** The longest wait between attempts while the service is away. Default 5,000 ms. */
  readonly maxBackoffMs?: number;
}

export interface LogShipperStats {
  /** Lines handed to the shipper. */
  readonly offered: number;
  /** Lines the service acknowledged (durable there). */
  readonly shipped: number;
  /** Lines dropped because the backlog was full. */
  readonly dropped: number;
  /** Lines waiting, in flight included. */
  readonly pending: number;
  readonly failures: number;
}

/** Lines per shipment, at most (the protocol's maxItems). */
const BATCH_LINES = 1000;
/** Characters per shipment: even in 4-byte UTF-8 well under the codec's 1 MiB message limit. */
const BATCH_CHARS = 160_000;
/** What a line costs in the backlog beyond its texts: its other columns. */
const LINE_OVERHEAD = 48;
/** A shipment leaves at once when this many lines wait. */
const SHIP_AT_ONCE = 200;
const LOGS_SERVICE = 'logs';

/**
 * Ships a program's log lines to the central log service (`logs.ship.request`, protocol revision
 * 1.5), one shipment in flight at a time. Logging never waits for it: `offer` only queues. While
 * the service is away, lines wait in a bounded backlog whose oldest lines are dropped when it is
 * full; once shipping works again, a warning line says how many were dropped (their sequence
 * numbers are also missing from the stored lines, so the gap shows).
 */
export class LogShipper {
  readonly #options: LogShipperOptions;
  #client: RequestClient | undefined;
  readonly #backlog: Backlog<LogLine>;
  /** This run's id: with the line numbers, what makes a line's identity (a batch sent twice is stored once). */
  readonly boot = randomBytes(12).toString('base64url');
  #seq = 0;
  #offered = 0;
  #shipped = 0;
  #dropped = 0;
  #failures = 0;
  #inFlight: LogLine[] = [];
  #sending: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The delay `#timer` was set with. */
  #timerWait = 0;
  #backoffMs = 0;
  #untap: (() => void) | undefined;
  /** The drop warning not yet shipped. */
  #notice: { readonly line: LogLine; readonly count: number; readonly firstSeq?: number } | undefined;
  /** Set by close: no more lines, no more timers. */
  #closing = false;

  constructor(options: LogShipperOptions) {
    this.#options = options;
    this.#backlog = new Backlog<LogLine>(options.backlogLines ?? 10_000, options.backlogChars ?? 8_000_000, lineChars);
    if (options.broker !== undefined) this.connect(options.broker);
  }

  /** Names the broker, when the options did not: shipping starts. Later calls are ignored. */
  connect(broker: string | readonly string[]): void {
    if (this.#client !== undefined || this.#closing) return;
    // No logger: the transport's own lines would be shipped, and set off more shipping.
    this.#client = new RequestClient({ endpoint: broker, timeout: this.#options.timeoutMs ?? 15_000, retries: 0, ...(this.#options.socket ?? {}) });
    if (this.#backlog.length > 0) this.#schedule(0);
  }

  /** Ships every line this process's program loggers write from now on (`addLogTap`). */
  start(): this {
    this.#untap ??= addLogTap((line) => this.offer(line));
    return this;
  }

  get stats(): LogShipperStats {
    return { offered: this.#offered, shipped: this.#shipped, dropped: this.#dropped + this.#backlog.dropped, pending: this.#backlog.length + this.#inFlight.length, failures: this.#failures };
  }

  /** Queues one line (pino's JSON text, or any text); never blocks, never throws. */
  offer(text: string): void {
    if (this.#closing) return;
    this.#offered++;
    this.#backlog.push(toLogLine(text, ++this.#seq));
    this.#schedule(this.#backlog.length >= SHIP_AT_ONCE ? 0 : (this.#options.intervalMs ?? 200));
  }

  /** Ships what is queued (within `timeoutMs`, while shipments succeed), then stops; lines offered later are not shipped. */
  async close(timeoutMs = 2_000): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#untap?.();
    clearTimeout(this.#timer);
    const deadline = Date.now() + timeoutMs;
    // Bounded: each round ships a batch or fails (which ends the rounds), and the deadline ends them too.
    while (this.#client !== undefined && Date.now() < deadline && (this.#backlog.length > 0 || this.#sending)) {
      const failures = this.#failures;
      await (this.#sending ?? this.#ship(Math.max(1, deadline - Date.now())));
      if (this.#failures > failures) break;
    }
    await this.#client?.close();
  }

  #schedule(delayMs: number): void {
    if (this.#sending || this.#closing || this.#client === undefined) return;
    const wait = Math.max(delayMs, this.#backoffMs);
    if (this.#timer !== undefined) {
      // A timer set to fire as soon or sooner stays: a busy program does not re-arm it every line.
      if (wait >= this.#timerWait) return;
      clearTimeout(this.#timer);
    }
    this.#timerWait = wait;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#ship();
    }, wait).unref();
  }

  #ship(timeoutMs?: number): Promise<void> {
    const client = this.#client;
    if (client === undefined) return Promise.resolve();
    const notice = this.#dropNotice();
    const taken = this.#backlog.take(notice ? BATCH_LINES - 1 : BATCH_LINES, BATCH_CHARS);
    const batch = notice ? [notice, ...taken] : taken;
    if (batch.length === 0) return Promise.resolve();
    this.#inFlight = batch;
    const { program, instance } = this.#options;
    const body = { program, instance, boot: this.boot, lines: batch as [LogLine, ...LogLine[]] };
    this.#sending = client
      .request(LOGS_SERVICE, 'logs.ship.request', body, timeoutMs === undefined ? {} : { timeout: timeoutMs })
      .then((reply) => {
        if (reply.type === 'error') throw CorreioError.fromWire(reply.body);
        if (reply.type !== 'logs.ship.reply') throw new Error(`the log service answered ${reply.type}`);
        this.#shipped += taken.length;
        this.#notice = undefined;
        this.#backoffMs = 0;
      })
      .catch((error: unknown) => {
        this.#failures++;
        // A batch the service refuses for what it is would be refused again, and hold up every
        // line behind it: dropped, and counted as such. Any other failure keeps it for the next
        // attempt (the service stores a line sent twice once).
        if (error instanceof CorreioError && !error.retryable) this.#backlog.discard(taken);
        else this.#backlog.unshift(taken);
        this.#backoffMs = Math.min(Math.max(2 * this.#backoffMs, 250), this.#options.maxBackoffMs ?? 5_000) * (0.75 + Math.random() / 2);
      })
      .finally(() => {
        this.#inFlight = [];
        this.#sending = undefined;
        if (this.#backlog.length > 0) this.#schedule(0);
      });
    return this.#sending;
  }

  /**
   * The warning line saying how many lines the backlog dropped, shipped ahead of the next batch
   * until the service has it. It keeps its sequence number across attempts (stored once), and is
   * made again with the new totals when more lines drop meanwhile.
   */
  #dropNotice(): LogLine | undefined {
    const { count, first, last } = this.#backlog.takeDropped();
    if (count > 0) {
      this.#dropped += count;
      const since = this.#notice?.firstSeq ?? first?.seq;
      const dropped = (this.#notice?.count ?? 0) + count;
      const fields = JSON.stringify({ name: 'logs', dropped, total_dropped: this.#dropped, first_seq: since, last_seq: last?.seq });
      const line: LogLine = {
        seq: ++this.#seq,
        at: Date.now(),
        level: 40,
        msg: `${dropped} log lines were dropped: the log service could not be reached (the backlog holds ${this.#options.backlogLines ?? 10_000} lines), or refused them`,
        fields,
      };
      this.#notice = { line, count: dropped, ...(since === undefined ? {} : { firstSeq: since }) };
    }
    return this.#notice?.line;
  }
}

function lineChars(line: LogLine): number {
  return LINE_OVERHEAD + line.msg.length + (line.fields?.length ?? 0);
}
