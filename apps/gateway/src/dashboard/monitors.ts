import { COMPONENT_SCHEMAS } from '../generated/protocolSchemas.js';

export const MONITOR_KINDS = ['broker', 'proxy', 'ref'] as const;

/** A process the dashboard watches through its monitoring URL (servers come from the reference server's list). */
export interface Monitor {
  readonly kind: (typeof MONITOR_KINDS)[number];
  /** Where it serves /health and /metrics, such as http://127.0.0.1:9100. */
  readonly url: string;
}

const HTTP_URL = new RegExp(String(COMPONENT_SCHEMAS['httpUrl']?.['pattern']));

/**
 * `--monitor broker=http://127.0.0.1:9100`, repeatable; one value may hold several, comma-separated
 * (CORREIO_GATEWAY_MONITOR, a config list). Throws a message fit for the command line.
 */
export function parseMonitors(value: string, previous: readonly Monitor[] = []): Monitor[] {
  const monitors = [...previous];
  for (const entry of value.split(',')) {
    const trimmed = entry.trim();
    if (trimmed === '') continue;
    const at = trimmed.indexOf('=');
    const kind = trimmed.slice(0, at);
    const url = trimmed.slice(at + 1).replace(/\/+$/, '');
    if (at < 0 || !(MONITOR_KINDS as readonly string[]).includes(kind)) throw new Error(`expected <kind>=<url> with kind ${MONITOR_KINDS.join(', ')}, got ${JSON.stringify(trimmed.slice(0, 80))}`);
    if (!HTTP_URL.test(url) || !URL.canParse(url)) throw new Error(`expected an http:// or https:// URL for ${kind}, got ${JSON.stringify(url.slice(0, 80))}`);
    monitors.push({ kind: kind as Monitor['kind'], url });
  }
  return monitors;
}
