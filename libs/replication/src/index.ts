export { Replicator, type ReplicatorOptions, type ReplicatorStats, type PeerStatus, type SyncReport } from './Replicator.js';
export type { ReplicaLog, LogDigest } from './ReplicaLog.js';
export { brokerTransport, serverService, REPLICA_TOPIC, type PeerTransport } from './PeerTransport.js';
export { serveFetch, serveDigest, serveApply } from './handlers.js';
