import { createHash } from 'node:crypto';
import { encode } from '@correio/codec';
import type { Operation } from '@correio/protocol';
import type { LogDigest, ReplicaLog } from '@correio/replication';

/** An in-memory ReplicaLog for tests: idempotent, order-independent, with an order-independent hash. */
export class MemoryLog implements ReplicaLog {
  readonly #ops = new Map<string, Map<number, Operation>>();
  /** Makes apply() fail, as a crashed or partitioned store would. */
  failing = false;

  highWaterMark(origin: string): number {
    const held = this.#ops.get(origin);
    let hwm = 0;
    while (held?.has(hwm + 1)) hwm++;
    return hwm;
  }

  opsFrom(origin: string, from: number, limit: number, to = Number.MAX_SAFE_INTEGER): Operation[] {
    const held = this.#ops.get(origin);
    const out: Operation[] = [];
    for (let seq = from; seq <= to && out.length < limit && held?.has(seq); seq++) out.push(held.get(seq)!);
    return out;
  }

  async apply(ops: readonly Operation[]): Promise<number> {
    if (this.failing) throw new Error('store unavailable');
    let added = 0;
    for (const op of ops) {
      const held = this.#ops.get(op.op.origin) ?? new Map<number, Operation>();
      this.#ops.set(op.op.origin, held);
      if (!held.has(op.op.seq)) {
        held.set(op.op.seq, op);
        added++;
      }
    }
    return added;
  }

  digest(): LogDigest {
    const hwm: Record<string, number> = {};
    const hash = Buffer.alloc(32);
    let count = 0;
    for (const [origin, held] of this.#ops) {
      hwm[origin] = this.highWaterMark(origin);
      for (const op of held.values()) {
        const h = createHash('sha256').update(encode(op)).digest();
        for (let i = 0; i < 32; i++) hash[i]! ^= h[i]!;
        count++;
      }
    }
    return { hwm, hash: hash.toString('hex'), ops: count };
  }
}

let wall = 1_700_000_000_000;
export function publishOp(origin: string, seq: number, text = `message ${seq}`): Operation {
  wall++;
  return { op: { origin, seq }, lc: seq, hlc: [wall, 0], kind: 'publish', data: { user: 'ana', channel: 'general', text } };
}
