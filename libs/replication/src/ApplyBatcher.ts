import { TimeoutError } from '@correio/codec';
import type { Operation } from '@correio/protocol';

/** Sends one `replica.apply.request` carrying `ops` to the peer; resolves once the peer applied them durably. */
export type SendApply = (ops: readonly Operation[], timeout: number) => Promise<unknown>;

export interface ApplyBatcherOptions {
  /** Batches in flight to the peer at once; further operations wait and join the next batch. Default 4. */
  readonly maxInFlight?: number;
  /** Operations per batch: the schema's `maxItems` of `replica.apply.request.ops`. Default 100. */
  readonly maxOps?: number;
  /** Estimated encoded bytes per batch, far under the 1 MiB envelope limit. Default 512 KiB. */
  readonly maxBytes?: number;
}

interface Entry {
  readonly ops: readonly Operation[];
  readonly bytes: number;
  readonly timeout: number;
  /** performance.now() past which the caller no longer waits: the entry is dropped rather than sent. */
  readonly deadline: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit for peer confirmations: operations pushed to one peer while earlier batches are in
 * flight travel together in the next `replica.apply.request`, which the peer applies in one
 * transaction and one disk sync. Under load that is one broker round trip and one peer sync per
 * batch instead of per write. A write pushed while the batcher is idle leaves at once, before push
 * returns; others leave at the end of the event-loop turn, so writes committed together travel
 * together. Up to `maxInFlight` batches are pipelined.
 */
export class ApplyBatcher {
  readonly #send: SendApply;
  readonly #maxInFlight: number;
  readonly #maxOps: number;
  readonly #maxBytes: number;
  #queue: Entry[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(send: SendApply, options: ApplyBatcherOptions = {}) {
    this.#send = send;
    this.#maxInFlight = options.maxInFlight ?? 4;
    this.#maxOps = options.maxOps ?? 100;
    this.#maxBytes = options.maxBytes ?? 512 * 1024;
  }

  /** Resolves once the peer confirmed a batch holding `ops`; rejects with that batch's failure. */
  push(ops: readonly Operation[], timeout: number): Promise<void> {
    if (ops.length > this.#maxOps) {
      // Larger than one batch: split, and confirm once every part is confirmed.
      const parts: Promise<void>[] = [];
      for (let i = 0; i < ops.length; i += this.#maxOps) parts.push(this.push(ops.slice(i, i + this.#maxOps), timeout));
      return Promise.all(parts).then(() => undefined);
    }
    return new Promise<void>((resolve, reject) => {
      const bytes = ops.reduce((sum, op) => sum + estimatedBytes(op), 0);
      this.#queue.push({ ops, bytes, timeout, deadline: performance.now() + timeout, resolve, reject });
      // Idle (nothing in flight, nothing waiting): it leaves now, so the peer's round trip overlaps what the caller
      // does next. Otherwise it waits for the turn's end and joins the next batch.
      if (this.#inFlight === 0 && this.#queue.length === 1 && !this.#scheduled) this.#sendBatch();
      else this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#maxInFlight || this.#queue.length === 0) return;
    this.#scheduled = true;
    // Writes committed in one disk sync resume within one turn of the event loop: let them all join.
    setImmediate(() => {
      this.#scheduled = false;
      while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) this.#sendBatch();
    });
  }

  #sendBatch(): void {
    const batch: Entry[] = [];
    let count = 0;
    let bytes = 0;
    const now = performance.now();
    while (this.#queue.length > 0) {
      const next = this.#queue[0]!;
      if (next.deadline <= now) {
        // Waited out behind a slow or silent peer: its caller has given up, so sending it would only add load.
        this.#queue.shift();
        next.reject(new TimeoutError(`the peer did not confirm within ${next.timeout} ms; the operations were not sent to it`));
        continue;
      }
      if (batch.length > 0 && (count + next.ops.length > this.#maxOps || bytes + next.bytes > this.#maxBytes)) break;
      batch.push(this.#queue.shift()!);
      count += next.ops.length;
      bytes += next.bytes;
    }
    if (batch.length === 0) return;
    this.#inFlight++;
    const ops = batch.length === 1 ? batch[0]!.ops : batch.flatMap((entry) => entry.ops);
    // The batch may take as long as its most patient caller still waits.
    const timeout = Math.max(1, Math.ceil(Math.max(...batch.map((entry) => entry.deadline)) - now));
    this.#send(ops, timeout).then(
      () => {
        for (const entry of batch) entry.resolve();
      },
      (error: unknown) => {
        for (const entry of batch) entry.reject(error);
      },
    ).finally(() => {
      this.#inFlight--;
      this.#schedule();
    });
  }
}

/**
 * An upper bound of an operation's MessagePack size without encoding it: every string at 3 bytes
 * per UTF-16 unit (the most UTF-8 needs), plus room for the keys, numbers and clocks.
 */
function estimatedBytes(op: Operation): number {
  let chars = op.op.origin.length + (op.rid?.length ?? 0);
  for (const value of Object.values(op.data)) if (typeof value === 'string') chars += value.length;
  return 256 + 3 * chars;
}
