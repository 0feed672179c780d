/** How many sockets of each kind one churn peer opens. */
export interface SocketCounts {
  /** MDP clients (DEALER) with the right CURVE keys, sending requests to chat, srv.<id>, ref, soak.echo, mmi.service and unknown services. */
  readonly clients: number;
  /** MDP workers (DEALER) with the right CURVE keys: READY for soak.echo.<k>, heartbeats, echoed replies. */
  readonly workers: number;
  /** PUB sockets on the proxy's publisher side, publishing service.event batches (and some malformed messages). */
  readonly publishers: number;
  /** SUB sockets on the proxy's subscriber side; some never read (slow subscribers), some (un)subscribe as they go. */
  readonly subscribers: number;
  /** DEALER, SUB and PUB sockets that speak CURVE with a wrong server key: every handshake is refused. */
  readonly wrongKey: number;
  /** DEALER, SUB and PUB sockets without CURVE against the CURVE-only sockets: every handshake is refused. */
  readonly plaintext: number;
}

/** What one churn peer process does (passed as JSON in its --plan argument). */
export interface PeerPlan {
  readonly name: string;
  readonly seed: number;
  /** The broker's endpoints (tcp and ipc); each socket picks one. */
  readonly broker: readonly string[];
  /** The proxy's publisher side (XSUB) and subscriber side (XPUB). */
  readonly publishers: string;
  readonly subscribers: string;
  /** The CURVE public key of the broker and the proxy. */
  readonly serverKey: string;
  /** A chat server's id, for requests to srv.<id>. */
  readonly serverId: string;
  /** The broker's MDP heartbeat interval. */
  readonly heartbeatMs: number;
  readonly sockets: SocketCounts;
  /** Routing ids and users are drawn from this many names shared by every peer, so a new peer reuses a killed one's ids. */
  readonly idPool: number;
  /** The peer exits by itself after this long: a bound for a peer nobody kills. */
  readonly lifetimeMs: number;
  /** The soak user the chat requests act as: its access token goes in their envelope auth. */
  readonly account: { readonly user: string; readonly token: string; readonly refreshToken: string };
}

/** The channel the churn clients publish to and read from; the honest checks use channels of their own. */
export const SOAK_CHANNEL = 'soak';
/** The worker services of the churn peers: soak.echo.0 … soak.echo.<n-1>. */
export const ECHO_SERVICES = 4;
