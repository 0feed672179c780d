#!/usr/bin/env node
// Until the apps land, `npm start` shows the protocol at work: it encodes a message, prints its
// canonical bytes, and decodes them back through the schema validators.
import { execFileSync } from 'node:child_process';

execFileSync('npx', ['tsx', '--conditions=@correio/source', '-e', `
  import { MessageCodec, newRequestId } from '@correio/codec';
  const codec = new MessageCodec();
  const envelope = { v: 1, type: 'chat.login.request', id: newRequestId(), from: 'demo', lc: 1, ts: Date.now(), body: { user: 'ana' } };
  const bytes = codec.encode(envelope);
  console.log('envelope :', JSON.stringify(envelope));
  console.log('msgpack  :', Buffer.from(bytes).toString('hex'), '(' + bytes.length + ' bytes)');
  console.log('decoded  :', JSON.stringify(codec.decode(bytes)));
  try { codec.decode(Uint8Array.from([0xc1])); } catch (error) { console.log('bad input:', error.name, error.code, '-', error.message); }
`], { stdio: 'inherit' });
