// One process in the topology: a button (keyboard-focusable) that opens its details. Its state is
// said in words and shown by colour; the coordinator is marked in words and by a heavier border.
import type { DashboardNode } from '@correio/protocol';
import { formatBytes, formatCpu, formatDuration } from './format.js';

const KIND_NAMES: Record<DashboardNode['kind'], string> = { broker: 'broker', proxy: 'proxy', ref: 'reference server', server: 'server', gateway: 'gateway', worker: 'worker' };

export function NodeCard({ node, coordinator, selected, onSelect }: { node: DashboardNode; coordinator: boolean; selected: boolean; onSelect: () => void }) {
  return (
    <button type="button" class={`node state-${node.state}${coordinator ? ' coordinator' : ''}`} aria-pressed={selected} data-node={node.id} onClick={onSelect}>
      <span class="node-title">
        <strong>{node.id}</strong> <span class="node-kind">{KIND_NAMES[node.kind]}</span>
        {node.rank !== undefined && <span class="node-rank"> · rank {node.rank}</span>}
      </span>
      <span class="node-state">
        <span class="dot" aria-hidden="true" />
        {node.state}
        {coordinator && <span class="badge">coordinator</span>}
      </span>
      <span class="node-meta">
        {node.version ? `v${node.version}` : 'version –'} · up {formatDuration(node.uptime_ms)}
      </span>
      <span class="node-meta">
        RSS {formatBytes(node.rss_bytes)} · CPU {formatCpu(node.cpu_permille)}
      </span>
    </button>
  );
}
