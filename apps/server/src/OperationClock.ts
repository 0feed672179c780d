import { ClockDriftError, HybridLogicalClock, LamportClock, type TimeSource } from '@correio/clocks';
import type { Operation } from '@correio/protocol';
import type { StoreClocks } from './store/ChatStore.js';

/** The data of each operation kind, as the protocol defines it (defs.json#/$defs/operation). */
export type OperationData<K extends Operation['kind']> = Extract<Operation, { kind: K }>['data'];

/**
 * Stamps this server's operations: `lc` from the Lamport clock the service framework stamps every
 * envelope with (so an operation is ordered after the request that caused it), `hlc` from a hybrid
 * logical clock. Both resume past the largest values in the store, so a restarted server never
 * issues an operation that sorts before one it already stored, even if its wall clock stepped back.
 */
export class OperationClock {
  readonly lamport: LamportClock;
  readonly #hlc: HybridLogicalClock;

  constructor(options: { readonly time: TimeSource; readonly stored: StoreClocks; readonly maxOffsetMs: number; readonly lamport?: LamportClock }) {
    this.lamport = options.lamport ?? new LamportClock();
    this.#hlc = new HybridLogicalClock({ time: options.time, maxOffsetMs: options.maxOffsetMs });
    const { lc, hlc } = options.stored;
    if (lc > 0) this.lamport.resume(lc); // its own store: trusted, not bounded like a received value
    if (hlc[0] > 0) {
      try {
        this.#hlc.resume({ wallMs: hlc[0], logical: hlc[1] });
      } catch (error) {
        if (!(error instanceof ClockDriftError)) throw error;
        throw new Error(
          `the store holds operations stamped ${error.aheadMs} ms ahead of this machine's clock (more than ${options.maxOffsetMs} ms): ` +
            'fix the clock (or raise --max-clock-offset) before serving, or new messages would sort before old ones',
          { cause: error },
        );
      }
    }
  }

  /**
   * Merges the clocks of an operation learnt from a peer, so what this server commits afterwards
   * sorts after it (a reply written here follows the message it answers, written elsewhere).
   * Returns false, changing nothing, for an HLC further ahead of this clock than the maximum
   * offset: the operation is stored all the same, but it must not drag this clock into the future.
   */
  observe(op: Operation): boolean {
    this.lamport.observe(op.lc);
    try {
      this.#hlc.update({ wallMs: op.hlc[0], logical: op.hlc[1] });
      return true;
    } catch (error) {
      if (error instanceof ClockDriftError) return false;
      throw error;
    }
  }

  /** An operation of `origin` with the next clock values. Call inside the commit, so seq and clocks rise together. */
  stamp<K extends Operation['kind']>(origin: string, seq: number, kind: K, data: OperationData<K>, rid: string | undefined): Operation {
    const lc = this.lamport.tick();
    const { wallMs, logical } = this.#hlc.now();
    return { op: { origin, seq }, lc, hlc: [wallMs, logical], kind, data, ...(rid === undefined ? {} : { rid }) } as Operation;
  }
}
