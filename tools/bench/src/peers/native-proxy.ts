// The baseline proxy: libzmq's zmq_proxy between XSUB and XPUB through zeromq.js's Proxy, nothing else.
import * as zmq from 'zeromq';

const xsub = new zmq.XSubscriber({ receiveHighWaterMark: 0, sendHighWaterMark: 0 });
const xpub = new zmq.XPublisher({ receiveHighWaterMark: 0, sendHighWaterMark: 0 });
await xsub.bind('tcp://127.0.0.1:*');
await xpub.bind('tcp://127.0.0.1:*');
const proxy = new zmq.Proxy(xsub, xpub);
process.stdout.write(`ready publishers=${xsub.lastEndpoint} subscribers=${xpub.lastEndpoint}\n`);
await proxy.run();
