// Sockets
export { ManagedSocket, type SocketKind, type SocketStats, type FrameBuilder } from './ManagedSocket.js';
export { openSocket, newContext } from './openSocket.js';
export { DEFAULT_CONTEXT_MAX_SOCKETS } from './socketLimit.js';
export type { SocketOptions, WhenSendQueueFull, TransportContext } from './SocketOptions.js';
export type { SocketEventMap, HandshakeFailure, HandshakeFailureReason } from './socketEvents.js';
export type { Frame, Frames } from './frames.js';
export { Fifo } from './Fifo.js';
export { TypedEvents, listenerFailureCount, type Listener } from './TypedEvents.js';

// Envelope stamping
export { LamportStamp, errorReading, type Stamp, type ClockReading } from './Stamp.js';
export { backoffDelay, type BackoffOptions } from './backoff.js';

// Majordomo (MDP/0.2, RFC 18)
export * as mdp from './mdp.js';
export type { Framing } from './mdp.js';
export { RequestClient, type RequestClientOptions, type RequestOptions, type RequestClientStats } from './RequestClient.js';
export { MalformedReplyError, UnexpectedReplyError } from './replyErrors.js';
export { Worker, type WorkerOptions, type WorkerStats } from './Worker.js';
export type { WorkerEventMap } from './WorkerConnection.js';
export type { RequestHandler, RequestContext } from './Responder.js';

// Plain REQ/REP
export { ReqClient, type ReqClientOptions, type ReqClientStats } from './ReqClient.js';
export { RepServer, type RepServerOptions, type RepServerStats } from './RepServer.js';
export { ServiceEndpoint, type ServiceEndpointOptions, type ServiceEndpointStats } from './ServiceEndpoint.js';
export { DirectLinks, type DirectLinksOptions, type DirectLinksStats } from './DirectLinks.js';
export { DirectRoute, type DirectRouteOptions, type DirectRouteStats, type RouteAnswer } from './DirectRoute.js';
export { isLocalOnlyEndpoint } from './localEndpoint.js';

// Pub/sub
export { topic, isTopic } from './topic.js';
export { Publisher, type PublisherOptions, type PublisherStats } from './Publisher.js';
export { Subscriber, type Publication, type SubscriberOptions, type SubscriberStats, type SubscriberEventMap } from './Subscriber.js';
export { encodePublicationHeader, decodePublicationHeader, type PublicationHeader } from './publicationHeader.js';

// Security
export {
  generateCurveKeyPair,
  loadCurveKeys,
  type CurveOptions,
  type CurveServerOptions,
  type CurveClientOptions,
  type CurveKeyPair,
  type CurveKeySources,
  type KeySource,
  type LoadedCurveKeys,
} from './curve.js';
export { ZapAuthenticator, ZAP_ENDPOINT, type ZapAuthenticatorOptions, type ZapEventMap, type ZapDecision, type ZapStats } from './ZapAuthenticator.js';
export { z85Encode, z85Decode, isZ85Key } from './z85.js';

// Broker and proxy (MajordomoBroker, SeedQueue, PubSubProxy)
export * from './broker/index.js';
export * from './proxy/index.js';
