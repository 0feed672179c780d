import { readFile } from 'node:fs/promises';

/**
 * TCP connections in CLOSE_WAIT on the given local ports, per port, from Linux's /proc/net/tcp and
 * /proc/net/tcp6; undefined where those files do not exist (another OS).
 *
 * CLOSE_WAIT means the peer has gone and this side has not closed its descriptor. libzmq closes a
 * connection within milliseconds of its peer leaving, except one its ROUTER has given up on: with
 * ZMQ_ROUTER_HANDOVER, a connection whose routing id a newcomer took over and which then sends is
 * never read again (libzmq 4.3.5, libzmq issue #4407), so it stays in CLOSE_WAIT, descriptor and
 * buffers held, until its listener or the socket closes. Counting them is how the broker sees them.
 */
export async function closeWaitByPort(ports: ReadonlySet<number>): Promise<Map<number, number> | undefined> {
  const tables = await Promise.all(['/proc/net/tcp', '/proc/net/tcp6'].map((path) => readFile(path, 'latin1').catch(() => undefined)));
  if (tables.every((table) => table === undefined)) return undefined;
  const counts = new Map<number, number>();
  for (const table of tables) {
    for (const line of table?.split('\n').slice(1) ?? []) {
      // "  sl  local_address rem_address   st …": local_address is HEXADDR:HEXPORT, st 08 is CLOSE_WAIT.
      const [, local, , state] = line.trim().split(/\s+/);
      if (state !== CLOSE_WAIT || local === undefined) continue;
      const port = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
      if (ports.has(port)) counts.set(port, (counts.get(port) ?? 0) + 1);
    }
  }
  return counts;
}

const CLOSE_WAIT = '08';

/** The port of a bound `tcp://host:port` endpoint, or undefined for another transport. */
export function tcpPort(endpoint: string): number | undefined {
  const match = /^tcp:\/\/.*:(\d+)$/.exec(endpoint);
  return match ? Number(match[1]) : undefined;
}
