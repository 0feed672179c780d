import { describe, expect, it } from 'vitest';
import { MessageCodec } from '@correio/codec';

describe('MessageCodec', () => {
  it('round-trips a login request', () => {
    const codec = new MessageCodec();
    const envelope = { v: 1, type: 'chat.login.request', id: 'abc', from: 'me', lc: 1, ts: 1, body: { user: 'ana' } } as const;
    expect(codec.decode(codec.encode(envelope))).toEqual(envelope);
  });
});
