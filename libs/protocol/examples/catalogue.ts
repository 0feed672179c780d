// What the generated package holds: the catalogue of message types, their body types, and validators.
// Run from the repository root: npx tsx --conditions=@correio/source libs/protocol/examples/catalogue.ts
import { BODY_VALIDATORS, ERROR_CODES, MESSAGE_INFO, MESSAGE_TYPES, PROTOCOL_VERSION, validateEnvelope, type BodyOf, type Envelope } from '@correio/protocol';

console.log(`protocol v${PROTOCOL_VERSION}: ${MESSAGE_TYPES.length} message types, ${ERROR_CODES.length} error codes`);

// The x-correio-* annotations of each schema: pattern, broker service, reply type.
const publish = MESSAGE_INFO['chat.publish.request'];
console.log(`chat.publish.request: ${publish.pattern} to service "${publish.service}", answered by ${publish.reply}`);
console.log('events:', MESSAGE_TYPES.filter((type) => MESSAGE_INFO[type].pattern === 'event').join(' '));

// Body types are generated from the schemas: a wrong field is a compile error.
const body: BodyOf<'chat.publish.request'> = { user: 'ana', channel: 'general', text: 'hello' };
const envelope: Envelope<'chat.publish.request'> = { v: 1, type: 'chat.publish.request', id: 'AAAAAAAAAAAAAAAAAAAAAA', from: 'example', lc: 1, ts: 0, body };

// Validators (ajv standalone code): the envelope, then the body by its type.
console.log('envelope valid:', validateEnvelope(envelope), '| body valid:', BODY_VALIDATORS['chat.publish.request'](body));
const validate = BODY_VALIDATORS['chat.publish.request'];
for (const candidate of [{ ...body, text: '' }, { ...body, extra: true }, { user: 'ana' }]) {
  validate(candidate);
  const [first] = validate.errors ?? [];
  console.log(`${JSON.stringify(candidate)} → ${first?.instancePath || '(body)'} ${first?.message}`);
}
