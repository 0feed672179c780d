import { MessageCodec } from '@correio/codec';
import type { AnyEnvelope, Envelope } from '@correio/protocol';
import { LamportStamp, type Stamp } from '@correio/transport';

export const codec = new MessageCodec();

/** An echo request: the worker under test returns params as the result. */
export function echoBody(params: Record<string, unknown>): { action: string; params: Record<string, unknown> } {
  return { action: 'test.echo', params };
}

/** The test handler: echoes a service.call.request's params back as the reply's result. */
export function echoResult(request: AnyEnvelope): { result: Record<string, unknown> } {
  if (request.type !== 'service.call.request') throw new Error(`unexpected ${request.type}`);
  return { result: (request.body.params ?? {}) as Record<string, unknown> };
}

/** The result a service.call.reply carries. */
export function resultOf(reply: AnyEnvelope): Record<string, unknown> {
  if (reply.type !== 'service.call.reply') throw new Error(`expected service.call.reply, got ${reply.type}`);
  return (reply.body.result ?? {}) as Record<string, unknown>;
}

/** Encoded bytes of a valid request envelope, for raw peers. */
export function requestBytes(id: string, params: Record<string, unknown> = {}): Uint8Array {
  const envelope: Envelope<'service.call.request'> = { v: 1, type: 'service.call.request', id, from: 'raw-peer', lc: 1, ts: Date.now(), body: echoBody(params) };
  return codec.encode(envelope);
}

/** Encoded bytes of a valid reply envelope, for raw peers. */
export function replyBytes(id: string, result: Record<string, unknown> = {}): Uint8Array {
  const envelope: Envelope<'service.call.reply'> = { v: 1, type: 'service.call.reply', id, from: 'raw-peer', lc: 1, ts: Date.now(), body: { result } };
  return codec.encode(envelope);
}

/**
 * A Stamp that breaks its contract while `broken` is set: `from`, `tick` and `current` all throw, so
 * not even an error reply can be built — what a bug on the error path looks like to the transport.
 */
export function breakableStamp(from: string): { stamp: Stamp; setBroken(value: boolean): void } {
  const inner = new LamportStamp(from);
  let broken = false;
  const guard = <T>(value: () => T): T => {
    if (broken) throw new Error('the stamp cannot stamp anything');
    return value();
  };
  const stamp: Stamp = {
    get from() {
      return guard(() => inner.from);
    },
    tick: () => guard(() => inner.tick()),
    current: () => guard(() => inner.current()),
    observe: (remote, input) => inner.observe(remote, input),
  };
  return { stamp, setBroken: (value) => (broken = value) };
}
