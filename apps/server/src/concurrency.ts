/**
 * Requests in flight per broker service. Writes in flight together share a disk sync and, with
 * `ackPeers`, a peer confirmation batch, so more of them cost less CPU each: in the end-to-end
 * benchmark (docs/benchmarks.md) 64 took ~20 % less CPU per acknowledged write than 16 at 100
 * clients, and a server at rest still uses about 1 % of a core.
 */
export const DEFAULT_CONCURRENCY = 64;

/**
 * Requests in flight per service on the server's direct endpoint (clients and peers straight to
 * this server, revision 1.9). A ROUTER holds no socket per request, so the bound is memory and the
 * store's batches, not connections: when clients pick the server by channel (chatServerFinder's
 * key), every writer of a busy channel sends here at once, and a request past the bound is refused
 * as OVERLOADED (retryable) instead of sharing the next commit.
 */
export const DEFAULT_DIRECT_CONCURRENCY = 1_024;
