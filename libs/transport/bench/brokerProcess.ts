// The benchmark's broker runs in its own process, so that its cost is not charged to the client
// and worker being measured. Prints its endpoint, then serves until SIGTERM.
import { TestBroker } from '../tests/helpers/TestBroker.js';

const broker = await TestBroker.start('tcp://127.0.0.1:*', { heartbeatInterval: 2500, liveness: 1000 });
console.log(broker.endpoint);
let reported = 0;
setInterval(() => {
  if (broker.violations.length > reported) {
    console.error('BROKER VIOLATIONS', broker.violations.slice(reported));
    reported = broker.violations.length;
  }
}, 100).unref();
process.on('SIGTERM', () => {
  if (broker.violations.length > 0) console.error(`broker saw protocol violations: ${broker.violations.slice(0, 5).join('; ')}`);
  void broker.close().then(() => process.exit(0));
});
