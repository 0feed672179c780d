// The drill-down of one process: everything its snapshot says; for a server also its store, its
// digest (high-water mark per origin) and its newest operations.
import type { DashboardNode } from '@correio/protocol';
import { Facts } from './Facts.js';
import { formatBytes, formatCpu, formatDuration, formatMicros, formatNumber, formatTime, perSecond } from './format.js';

export function NodeDetails({ node, intervalMs, at }: { node: DashboardNode; intervalMs: number; at: number }) {
  const facts: [string, string][] = [
    ['Kind', node.kind],
    ['State', `${node.state}${node.status ? ` (${node.status})` : ''}`],
    ['Version', node.version ?? '–'],
    ['Uptime', formatDuration(node.uptime_ms)],
    ['RSS', formatBytes(node.rss_bytes)],
    ['CPU', formatCpu(node.cpu_permille)],
  ];
  if (node.http) facts.push(['Health and metrics', node.http]);
  if (node.kind === 'server') {
    facts.push(
      ['Rank', node.rank === undefined ? '–' : String(node.rank)],
      ['Role', node.role ?? '–'],
      ['Clock offset against the coordinator', formatMicros(node.clock_offset_us)],
      ['Lamport clock', node.lamport === undefined ? '–' : String(node.lamport)],
      ['Last heartbeat', node.last_heartbeat === undefined ? '–' : `${formatTime(node.last_heartbeat)} (${formatDuration(Math.max(0, at - node.last_heartbeat))} before this snapshot)`],
      ['Operations stored', node.store_ops === undefined ? '–' : String(node.store_ops)],
      ['Store on disk', formatBytes(node.store_bytes)],
      ['Replication lag', node.replication_lag_ops === undefined ? '–' : `${node.replication_lag_ops} ops`],
      ['Requests', `${formatNumber(perSecond(node.requests, intervalMs))} /s`],
      ['Errors', `${formatNumber(perSecond(node.errors, intervalMs))} /s`],
    );
  }
  return (
    <>
      <Facts facts={facts} />
      {node.high_water_marks && (
        <table class="data">
          <caption>High-water marks: the highest op held with no gap below, per origin</caption>
          <thead>
            <tr>
              <th scope="col">Origin</th>
              <th scope="col">Sequence</th>
            </tr>
          </thead>
          <tbody>
            {node.high_water_marks.map((mark) => (
              <tr key={mark.origin}>
                <th scope="row">{mark.origin}</th>
                <td>{mark.seq}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {node.recent_ops && (
        <table class="data">
          <caption>Newest operations</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Op</th>
              <th scope="col">Kind</th>
              <th scope="col">What</th>
            </tr>
          </thead>
          <tbody>
            {node.recent_ops.map((op) => (
              <tr key={`${op.origin}:${op.seq}`}>
                <td>{formatTime(op.at)}</td>
                <td>
                  {op.origin}:{op.seq}
                </td>
                <td>{op.kind}</td>
                <td>{op.summary ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
