// A harness for running Correio peers in other languages against the TypeScript apps: the apps as
// child processes, the Python and Go peers' programs, and one participant interface over all.
// Child processes, waits and scratch directories come from @correio/testing.
export { appMain, pythonPeerDir, pythonExecutable, goPeerDir } from './paths.js';
export { startTopology, waitForServices, serverArguments, type Topology, type TopologyOptions } from './Topology.js';
export { requirePeerToolchains, buildGoPrograms, spawnPython, type GoPrograms } from './peerPrograms.js';
export { PAGE, type Participant, type ReceivedEvent } from './Participant.js';
export { DriverParticipant } from './DriverParticipant.js';
export { TypeScriptParticipant } from './TypeScriptParticipant.js';
