export { REF_SERVICE, MEMBERSHIP_TOPIC, ELECTION_TOPIC, serverService } from './names.js';
export {
  BullyElection,
  MAX_ADOPTED_TERM,
  type BullyElectionOptions,
  type ElectionPeer,
  type ElectionOutput,
  type ElectionAnswer,
  type ElectionRole,
  type ElectionState,
  type CoordinatorInfo,
} from './BullyElection.js';
export { MAX_SERVERS_FROM_EVENTS, ServerDirectory, type ServerInfo, type MembershipChange, type MembershipState } from './ServerDirectory.js';
export { Discovery, type DiscoveryOptions, type DiscoveryEventMap } from './Discovery.js';
export { ServerNode, type ServerNodeOptions, type ServerNodeEventMap } from './ServerNode.js';
export { chatServerFinder, type ChatServerFinderOptions } from './chatServerFinder.js';
