const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10_000;

/** How long to wait before reconnect attempt `attempt` (from 0): doubling up to 10 s, with jitter so clients spread out. */
export function reconnectDelay(attempt: number): number {
  return Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** attempt) * (0.5 + Math.random() / 2);
}

/** A WebSocket URL of the gateway serving this page. */
export function gatewaySocketUrl(path: string): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}`;
}
