export { ServerRegistry, type ServerRegistryOptions, type Instant, type MembershipEvent, type ServerListing, type ServerAddresses } from './ServerRegistry.js';
export { InMemoryRegistryStore, type RegistryStore, type RegistrySnapshot, type StoredServer } from './RegistryStore.js';
export { JsonFileRegistryStore, STATE_FILE } from './JsonFileRegistryStore.js';
export { CorruptRegistryError } from './validateSnapshot.js';
// Thrown by startRef while another live process holds its data directory.
export { DataDirLockedError } from '@correio/observability';
export { CoordinatorTracker } from './CoordinatorTracker.js';
export { startRef, type StartRefOptions, type RunningRef } from './startRef.js';
export { refCommand, parseRefCommandLine, type RefCommandLine } from './cli.js';
