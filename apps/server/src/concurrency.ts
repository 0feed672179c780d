/**
 * Requests in flight per broker service. Writes in flight together share a disk sync and, with
 * `ackPeers`, a peer confirmation batch, so more of them cost less CPU each: in the end-to-end
 * benchmark (docs/benchmarks.md) 64 took ~20 % less CPU per acknowledged write than 16 at 100
 * clients, and a server at rest still uses about 1 % of a core.
 */
export const DEFAULT_CONCURRENCY = 64;
