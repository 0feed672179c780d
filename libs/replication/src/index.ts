export { Replicator, type ReplicatorOptions, type ReplicatorStats, type PeerStatus, type SyncReport } from './Replicator.js';
export type { ReplicaLog, LogDigest } from './ReplicaLog.js';
export { brokerTransport, peerTransport, serverService, REPLICA_TOPIC, type PeerTransport, type PeerRequest } from './PeerTransport.js';
export { PeerLinks, type PeerLinksOptions, type PeerLinksStats } from './PeerLinks.js';
export { serveFetch, serveDigest, serveApply } from './handlers.js';
