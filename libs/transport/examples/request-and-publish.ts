// A request through a Majordomo broker to a worker, and publications through an XSUB/XPUB proxy.
// Run from the repository root: npx tsx --conditions=@correio/source libs/transport/examples/request-and-publish.ts
import { MajordomoBroker, Publisher, PubSubProxy, RequestClient, Subscriber, Worker, topic } from '@correio/transport';

// The engines of apps/broker and apps/proxy, in this process; port 0 (*) picks free ports.
const broker = new MajordomoBroker({ endpoints: ['tcp://127.0.0.1:*'] });
await broker.start();
const proxy = new PubSubProxy({ frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*' });
await proxy.start();

// A worker for service "chat": the handler returns the reply body; the worker builds the envelope.
const worker = new Worker({
  endpoint: broker.endpoints[0]!,
  service: 'chat',
  concurrency: 2,
  handler: (request) => {
    if (request.type !== 'chat.login.request') throw new Error('not served here');
    return { user: request.body.user, first_seen: request.ts, last_seen: request.ts, created: true };
  },
}).start();

const client = new RequestClient({ endpoint: broker.endpoints[0]! });
const reply = await client.request('chat', 'chat.login.request', { user: 'ana' }, { timeout: 3000, retries: 2 });
if (reply.type !== 'chat.login.reply') throw new Error(`unexpected ${reply.type}`); // an error reply would have thrown
console.log(reply.type, reply.body.user, `created=${reply.body.created}`);
const [mmi] = await client.requestRaw('mmi.service', [Buffer.from('chat')]);
console.log('mmi.service chat →', Buffer.from(mmi!).toString());

// Pub/sub: topics end in '/', and every publication carries a per-topic sequence number.
const subscriber = new Subscriber({ topics: [topic('chan', 'general')] });
subscriber.connect(proxy.backend);
const publisher = new Publisher({ from: 'example' });
publisher.connect(proxy.frontend);
// A subscription reaches the proxy asynchronously, and what is published before it arrives is not
// delivered to this subscriber: publish until the first publication comes through.
let op = 0;
const publish = (text: string) =>
  publisher.publish(topic('chan', 'general'), 'chat.publication', { op: { origin: 'example', seq: ++op }, channel: 'general', user: 'ana', text, lc: op, hlc: [Date.now(), 0], ts: Date.now() });
const stream = subscriber[Symbol.asyncIterator]();
const next = async () => {
  const { value } = await stream.next();
  if (value?.envelope.type !== 'chat.publication') throw new Error('expected a chat.publication');
  return { topic: value.topic, seq: value.seq, text: value.envelope.body.text };
};
const first = next();
for (let attempt = 0; attempt < 250 && subscriber.stats.received === 0; attempt++) {
  publish('hello');
  await new Promise((resolve) => setTimeout(resolve, 20));
}
const { topic: at, text } = await first;
console.log(`first on ${at}: "${text}"`);
publish('two');
publish('three');
const later = [];
while (later.length < 2) {
  const publication = await next();
  if (publication.text !== 'hello') later.push(publication); // skip hellos still in flight
}
console.log(`then: ${later.map((p) => `"${p.text}"`).join(', ')}; consecutive sequence numbers: ${later[1]!.seq === later[0]!.seq + 1}`);
console.log('gaps:', subscriber.stats.gaps);

await subscriber.close();
await publisher.close();
await client.close();
await worker.stop();
await broker.close();
await proxy.close();
