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
 *
 * The HLC resumes strictly past this server's own newest operation (`own`): one stamped further
 * ahead than the maximum offset means this machine's clock stepped back, and the server refuses to
 * start. Past the store's newest operation of any origin (`stored`) it resumes only as far as
 * observe() would have merged it: an operation a peer stamped too far ahead (or at the end of the
 * HLC range) was stored without moving the clock when it arrived, and must not stop a restart either
 * — otherwise one forged replica.op could keep a server from ever starting again (`skipped` tells).
 */
export class OperationClock {
  readonly lamport: LamportClock;
  readonly #hlc: HybridLogicalClock;
  /** The stored HLC this clock did not resume past (too far ahead to merge), if any. */
  readonly skipped: StoreClocks['hlc'] | undefined;

  constructor(options: {
    readonly time: TimeSource;
    readonly stored: StoreClocks;
    readonly own?: StoreClocks['hlc'];
    readonly maxOffsetMs: number;
    readonly lamport?: LamportClock;
  }) {
    this.lamport = options.lamport ?? new LamportClock();
    this.#hlc = new HybridLogicalClock({ time: options.time, maxOffsetMs: options.maxOffsetMs });
    const { lc, hlc } = options.stored;
    if (lc > 0) this.lamport.resume(lc); // its own store: trusted, not bounded like a received value
    const own = options.own ?? hlc;
    if (own[0] > 0) {
      try {
        this.#hlc.resume({ wallMs: own[0], logical: own[1] });
      } catch (error) {
        if (!(error instanceof ClockDriftError)) throw error;
        throw new Error(
          `the store holds operations stamped ${error.aheadMs} ms ahead of this machine's clock (more than ${options.maxOffsetMs} ms): ` +
            'fix the clock (or raise --max-clock-offset) before serving, or new messages would sort before old ones',
          { cause: error },
        );
      }
    }
    if (hlc[0] > 0 && hlc !== own && !this.#resumePast(hlc)) this.skipped = hlc;
  }

  /** Resumes past a stored HLC of another origin if observe() would merge it; false when it would not. */
  #resumePast(hlc: StoreClocks['hlc']): boolean {
    try {
      this.#hlc.resume({ wallMs: hlc[0], logical: hlc[1] });
      return true;
    } catch (error) {
      // ClockDriftError: too far ahead; RangeError: at the very end of the HLC range.
      if (error instanceof ClockDriftError || error instanceof RangeError) return false;
      throw error;
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
