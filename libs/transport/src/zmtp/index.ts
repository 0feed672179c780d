export { XPubServer, type XPubServerOptions, type XPubServerEvents } from './XPubServer.js';
export type { ConnectionEnd, ConnectionRefusal } from './ZmtpConnection.js';
