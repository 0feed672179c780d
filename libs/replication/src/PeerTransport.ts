import type { AnyEnvelope, BodyOf, MessageType, Operation, ReplicaApplyReply, ReplicaDigestReply, ReplicaFetchReply, ReplicaFetchRequest } from '@correio/protocol';
import { CorreioError, InternalError } from '@correio/codec';
import type { Publisher, RequestClient } from '@correio/transport';

/** How a Replicator reaches its peers. One implementation goes through the broker and proxy. */
export interface PeerTransport {
  /** Publishes an operation of this server on the replication topic. */
  publish(op: Operation): void;
  fetch(peer: string, request: ReplicaFetchRequest, timeout: number): Promise<ReplicaFetchReply>;
  digest(peer: string, timeout: number): Promise<ReplicaDigestReply>;
  apply(peer: string, ops: readonly Operation[], timeout: number): Promise<ReplicaApplyReply>;
}

/** The replication topic (protocol/FRAMES.md §4.1). */
export const REPLICA_TOPIC = 'replica/';

/** The broker service that reaches exactly one server (protocol/FRAMES.md §4.2). */
export function serverService(serverId: string): string {
  return `srv.${serverId}`;
}

/** Sends a request to `srv.<peer>` (through the broker, or on a direct link: PeerLinks) and resolves with the reply envelope. */
export type PeerRequest = <T extends MessageType>(peer: string, type: T, body: BodyOf<T>, options: { readonly timeout: number }) => Promise<AnyEnvelope>;

/**
 * A PeerTransport over the broker (requests to `srv.<peer>`) and the proxy (topic `replica/`).
 * `publisher` is a transport Publisher, or anything that publishes the same way (a Service).
 */
export function brokerTransport(client: Pick<RequestClient, 'request'>, publisher: Pick<Publisher, 'publish'>): PeerTransport {
  return peerTransport((peer, type, body, options) => client.request(serverService(peer), type, body, options), publisher);
}

/** A PeerTransport whose requests go through `request` (PeerLinks: direct when it can) and whose operations are published on `replica/`. */
export function peerTransport(request: PeerRequest, publisher: Pick<Publisher, 'publish'>): PeerTransport {
  return {
    publish(op) {
      publisher.publish(REPLICA_TOPIC, 'replica.op', op);
    },
    async fetch(peer, fetchRequest, timeout) {
      return bodyOf(await request(peer, 'replica.fetch.request', fetchRequest, { timeout }), 'replica.fetch.reply');
    },
    async digest(peer, timeout) {
      return bodyOf(await request(peer, 'replica.digest.request', {}, { timeout }), 'replica.digest.reply');
    },
    async apply(peer, ops, timeout) {
      const [first, ...rest] = ops;
      if (!first) throw new InternalError('replica.apply.request needs at least one operation');
      return bodyOf(await request(peer, 'replica.apply.request', { ops: [first, ...rest] }, { timeout }), 'replica.apply.reply');
    },
  };
}

function bodyOf<T>(reply: AnyEnvelope, type: AnyEnvelope['type']): T {
  if (reply.type === 'error') throw CorreioError.fromWire(reply.body);
  if (reply.type !== type) throw new InternalError(`expected ${type}, got ${reply.type}`);
  return reply.body as T;
}
