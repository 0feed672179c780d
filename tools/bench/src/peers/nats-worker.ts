// NATS request/reply echo worker: a queue-group subscriber that answers each request with its body.
import { connect } from 'nats';
import { arg } from './args.js';

const nc = await connect({ servers: arg('url') });
const subscription = nc.subscribe('echo', { queue: 'workers' });
await nc.flush();
process.stdout.write('ready\n');
for await (const message of subscription) message.respond(message.data);
