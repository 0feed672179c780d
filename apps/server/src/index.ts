// Running a server in this process, or from the command line
export { startServer, type StartServerOptions, type RunningServer, type ServerHealth, type VerifyMode } from './startServer.js';
export { serverCommand, parseServerCommandLine, type ServerCommandLine } from './cli.js';
export { type DashboardHealth } from './dashboardHealth.js';
export { RecentOperations, summarize, type RecentOperation } from './RecentOperations.js';

// The handlers, for embedding them in another service
export { ChatServer, type ChatServerOptions, type ChatServerCounters } from './ChatServer.js';
export { OperationClock } from './OperationClock.js';
export { OperationFanout } from './OperationFanout.js';

// The durable store
export {
  ChatStore,
  type ChatStoreOptions,
  type Committed,
  type Page,
  type StoreDigest,
  type StoreClocks,
  type VerifyReport,
  type UserRecord,
  type ChannelRecord,
} from './store/ChatStore.js';
export { StoreDamagedError, StoreMismatchError } from './store/StoreErrors.js';
export { DataDirLockedError } from '@correio/observability';
export { compareOrder, orderOf, type OrderKey } from './store/order.js';
export { encodeCursor, decodeCursor } from './cursor.js';
