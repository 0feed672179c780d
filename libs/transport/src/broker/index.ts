export { MajordomoBroker, type BrokerSnapshot, type ServiceSnapshot } from './MajordomoBroker.js';
export { SeedQueue, type SeedQueueOptions } from './SeedQueue.js';
export { closeWaitByPort, tcpPort } from './stuckConnections.js';
export {
  BROKER_DEFAULTS,
  defaultNodeId,
  type BrokerDropReason,
  type BrokerLimit,
  type BrokerObserver,
  type MajordomoBrokerOptions,
  type ServiceDeparture,
  type TransportLogger,
  type WorkerDeparture,
} from './options.js';
