import type { RegistrySnapshot, StoredServer } from './RegistryStore.js';

const NODE_ID = /^[\x21-\x7e]{1,128}$/;
const ENDPOINT = /^[\x21-\x7e]{1,256}$/;
/** defs.json `httpUrl`. */
const HTTP_URL = /^https?:\/\/[\x21-\x7e]{1,248}$/;

/** The registry state file is damaged or was edited into something inconsistent. */
export class CorruptRegistryError extends Error {
  override name = 'CorruptRegistryError';
}

/**
 * Checks a loaded snapshot thoroughly: a reference server that started from a damaged file could
 * issue a rank twice, so it must refuse to start instead (an operator restores the file).
 */
export function validateSnapshot(value: unknown, where: string): RegistrySnapshot {
  const fail = (why: string): never => {
    throw new CorruptRegistryError(`${where}: ${why}; refusing to start, since the ranks it records could be issued twice`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('not a JSON object');
  const record = value as Record<string, unknown>;
  if (record['format'] !== SNAPSHOT_FORMAT) fail(`unknown format ${JSON.stringify(record['format'])} (expected ${SNAPSHOT_FORMAT})`);
  const nextRank = record['nextRank'];
  if (!isPositiveInteger(nextRank)) fail('nextRank is not a positive integer');
  if (!Array.isArray(record['servers'])) fail('servers is not an array');
  const servers: StoredServer[] = [];
  const ids = new Set<string>();
  const ranks = new Set<number>();
  for (const [index, item] of (record['servers'] as unknown[]).entries()) {
    const at = `servers[${index}]`;
    if (typeof item !== 'object' || item === null) fail(`${at} is not an object`);
    const { server, rank, endpoint, http, peer, registeredAt, lastSeen, listed } = item as Record<string, unknown>;
    if (typeof server !== 'string' || !NODE_ID.test(server)) fail(`${at}.server is not a node id`);
    if (!isPositiveInteger(rank)) fail(`${at}.rank is not a positive integer`);
    if (endpoint !== undefined && (typeof endpoint !== 'string' || !ENDPOINT.test(endpoint))) fail(`${at}.endpoint is not an endpoint`);
    if (http !== undefined && (typeof http !== 'string' || !HTTP_URL.test(http))) fail(`${at}.http is not an http URL`);
    if (peer !== undefined && (typeof peer !== 'string' || !ENDPOINT.test(peer))) fail(`${at}.peer is not an endpoint`);
    if (!isTimestamp(registeredAt) || !isTimestamp(lastSeen)) fail(`${at} has an invalid registeredAt or lastSeen`);
    if (typeof listed !== 'boolean') fail(`${at}.listed is not a boolean`);
    if (ids.has(server as string)) fail(`server ${server as string} appears twice`);
    if (ranks.has(rank as number)) fail(`rank ${rank as number} appears twice`);
    if ((rank as number) >= (nextRank as number)) fail(`rank ${rank as number} is not below nextRank ${nextRank as number}`);
    ids.add(server as string);
    ranks.add(rank as number);
    servers.push({
      server: server as string,
      rank: rank as number,
      ...(endpoint !== undefined ? { endpoint: endpoint as string } : {}),
      ...(http !== undefined ? { http: http as string } : {}),
      ...(peer !== undefined ? { peer: peer as string } : {}),
      registeredAt: registeredAt as number,
      lastSeen: lastSeen as number,
      listed: listed as boolean,
    });
  }
  return { nextRank: nextRank as number, servers };
}

/** The `format` tag of the state file. */
export const SNAPSHOT_FORMAT = 'correio-ref/1';

function isPositiveInteger(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 1;
}

function isTimestamp(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}
