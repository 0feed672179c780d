import type { Operation, ReplicaApplyReply, ReplicaApplyRequest, ReplicaDigestReply, ReplicaFetchReply, ReplicaFetchRequest } from '@correio/protocol';
import { encode } from '@correio/codec';
import type { ReplicaLog } from './ReplicaLog.js';

/** A fetch reply stays well under the codec's 1 MiB message limit whatever the operations hold. */
const MAX_FETCH_BYTES = 512 * 1024;
const DEFAULT_FETCH_LIMIT = 1000;

/** Serves a peer's replica.fetch.request: consecutive operations of one origin, bounded in count and bytes. */
export function serveFetch(log: ReplicaLog, request: ReplicaFetchRequest): ReplicaFetchReply {
  const limit = Math.min(request.limit ?? DEFAULT_FETCH_LIMIT, DEFAULT_FETCH_LIMIT);
  const held = log.opsFrom(request.origin, request.from_seq, limit, request.to_seq);
  const ops: Operation[] = [];
  let bytes = 0;
  let expected = request.from_seq;
  for (const op of held) {
    if (op.op.seq !== expected) break; // only a consecutive run: the requester's hwm must advance
    bytes += encode(op).byteLength;
    if (bytes > MAX_FETCH_BYTES && ops.length > 0) break;
    ops.push(op);
    expected++;
  }
  return { origin: request.origin, ops, high: log.highWaterMark(request.origin) };
}

/** Serves replica.digest.request. */
export function serveDigest(log: ReplicaLog, server: string): ReplicaDigestReply {
  const digest = log.digest();
  return { server, hwm: { ...digest.hwm }, hash: digest.hash, ops: digest.ops };
}

/** Serves replica.apply.request: replies once the operations are durable here. */
export async function serveApply(log: ReplicaLog, server: string, request: ReplicaApplyRequest): Promise<ReplicaApplyReply> {
  return { server, applied: await log.apply(request.ops) };
}
