import { traceWrite } from '@correio/observability';
import type { PeerTransport } from '@correio/replication';

/**
 * With CORREIO_TRACE_WRITES set, marks when each write leaves for a peer in a `replica.apply.request`
 * batch and when that peer's confirmation is back (keyed by the write's request id); otherwise the
 * transport itself, untouched.
 */
export function tracedTransport(transport: PeerTransport): PeerTransport {
  const trace = traceWrite;
  if (trace === undefined) return transport;
  return {
    ...transport,
    async apply(peer, ops, timeout) {
      for (const op of ops) if (op.rid !== undefined) trace('origin.apply.sent', op.rid, peer);
      const reply = await transport.apply(peer, ops, timeout);
      for (const op of ops) if (op.rid !== undefined) trace('origin.apply.confirmed', op.rid, peer);
      return reply;
    },
  };
}
