// The churn soak: short-lived churn peers (child processes full of zeromq sockets, SIGKILLed
// mid-traffic) against a running broker, proxy, reference server and chat servers, all on CURVE.
export { runChurn, RSS_BOUND, formatMiB, type ChurnOptions, type ChurnReport, type ProgramReport } from './runChurn.js';
export { ChurnPeers, splitSockets, type ChurnCounts, type PeerDeath } from './ChurnPeers.js';
export { checkServes, type ServiceCheck } from './checkServes.js';
export { summary } from './summary.js';
export { startSoakTopology, type SoakTopology, type SoakTopologyOptions } from './topology.js';
export { residentKiB, RssPeaks } from './rss.js';
export type { PeerPlan, SocketCounts } from './plan.js';
