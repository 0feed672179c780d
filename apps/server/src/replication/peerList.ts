/** A server id, as the command line and the protocol accept it. */
const SERVER_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * Parses a static peer list (`--peers s2,s3`, CORREIO_SERVER_PEERS): server ids separated by
 * commas or spaces, duplicates dropped. Throws RangeError naming a bad entry.
 */
export function parsePeerList(value: string): string[] {
  const peers: string[] = [];
  for (const entry of value.split(/[\s,]+/)) {
    if (entry === '') continue;
    if (!SERVER_ID.test(entry)) throw new RangeError(`${JSON.stringify(entry)} is not a server id (1–128 printable ASCII characters)`);
    if (!peers.includes(entry)) peers.push(entry);
  }
  return peers;
}

/** A fixed peer list as the `peers` option wants it: the other servers, never this one. */
export function staticPeers(self: string, peers: readonly string[]): () => string[] {
  const others = peers.filter((peer) => peer !== self);
  return () => others;
}
