import { MessageCodec, newRequestId } from '@correio/codec';
import type { Envelope } from '@correio/protocol';

export const codec = new MessageCodec();

/** The two payload sizes of the benchmark: bytes of application data inside each envelope. */
export const SIZES = [64, 1024] as const;
export type Size = (typeof SIZES)[number];

export function params(size: Size): { p: string } {
  return { p: 'x'.repeat(size) };
}

export function requestEnvelope(size: Size, from = 'bench-client'): Envelope<'service.call.request'> {
  return { v: 1, type: 'service.call.request', id: newRequestId(), from, lc: 1, ts: Date.now(), body: { action: 'bench.echo', params: params(size) } };
}

export function eventEnvelope(size: Size): Envelope<'service.event'> {
  return { v: 1, type: 'service.event', id: newRequestId(), from: 'bench-pub', lc: 1, ts: Date.now(), body: { event: 'bench.tick', data: params(size), sender: 'bench' } };
}

/** Size in bytes of one encoded envelope carrying `size` bytes of data. */
export function encodedSize(size: Size): number {
  return codec.encode(requestEnvelope(size)).byteLength;
}
