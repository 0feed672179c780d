// A harness for running Correio peers in other languages against the TypeScript apps: the apps as
// child processes, the Python, Go and Rust peers' programs (drivers.ts: one entry per language),
// and one participant interface over all.
// Child processes, waits and scratch directories come from @correio/testing.
export { appMain, pythonPeerDir, pythonExecutable, goPeerDir, rustPeerDir } from './paths.js';
export { startTopology, waitForServices, serverArguments, type Topology, type TopologyOptions } from './Topology.js';
export { requirePeerToolchains, buildGoPrograms, buildRustPrograms, spawnPython, type GoPrograms, type RustPrograms } from './peerPrograms.js';
export { prepareDrivers, type PeerDriver, type DriverLanguage, type ChatDriverOptions, type EchoWorkerOptions } from './drivers.js';
export { PAGE, type Participant, type ReceivedEvent } from './Participant.js';
export { DriverParticipant } from './DriverParticipant.js';
export { TypeScriptParticipant } from './TypeScriptParticipant.js';
export { startServiceDriver, ServiceDriverProcess, type ServiceLanguage, type ServiceDriverOptions, type DriverLine, type CallOutcome } from './ServiceDriverProcess.js';
export { callLatencies, type CallLatencies } from './callLatencies.js';
