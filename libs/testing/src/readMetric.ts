/**
 * Reads a metric from a program's /metrics endpoint (Prometheus text): the sum of the samples of
 * `name` whose labels include every one of `labels`; 0 when there is none.
 */
export async function readMetric(http: string, name: string, labels: Readonly<Record<string, string>> = {}): Promise<number> {
  const response = await fetch(`${http}/metrics`, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`GET ${http}/metrics: HTTP ${response.status}`);
  let total = 0;
  for (const line of (await response.text()).split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const series = match[2] ?? '';
    if (Object.entries(labels).every(([key, value]) => series.includes(`${key}="${value}"`))) total += Number(match[3]);
  }
  return total;
}
