// Presence from a user's last-seen time (their latest login): the gateway has no live presence.

/** Seen within this long: shown as active. */
export const ACTIVE_MS = 15 * 60_000;

export function isActive(lastSeen: number, now: number): boolean {
  return now - lastSeen < ACTIVE_MS;
}

export function lastSeenText(lastSeen: number, now: number): string {
  const minutes = Math.floor(Math.max(0, now - lastSeen) / 60_000);
  if (minutes < 1) return 'active now';
  if (minutes < 60) return `seen ${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `seen ${hours} h ago`;
  return `seen ${new Date(lastSeen).toLocaleDateString()}`;
}
