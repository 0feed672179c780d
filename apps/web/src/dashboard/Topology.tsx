// The system drawn live: the links as SVG lines under the processes, which are HTML buttons placed on
// the same percentages (so they stay real, focusable buttons with readable text).
import type { GatewayDashboard } from '@correio/protocol';
import { NodeCard } from './NodeCard.js';
import { layOut } from './topologyLayout.js';

/** Height of one row of the diagram, and the width a node needs (dashboard.css gives .node 13.5rem). */
const ROW_REM = 9;
const COLUMN_REM = 14.5;

export function Topology({ snapshot, selected, onSelect }: { snapshot: GatewayDashboard; selected: string | undefined; onSelect: (id: string) => void }) {
  const layout = layOut(snapshot.nodes);
  const at = new Map(layout.placed.map((placed) => [placed.node.id, placed]));
  const isCoordinator = (id: string, role: string | undefined) => (snapshot.coordinator !== undefined ? snapshot.coordinator === id : role === 'coordinator');
  return (
    <section class="topology-section" aria-labelledby="topology-heading">
      <h2 id="topology-heading">Topology</h2>
      <div class="topology-scroll">
        <div class="topology" style={{ height: `${layout.rows * ROW_REM}rem`, minWidth: `${layout.widest * COLUMN_REM}rem` }}>
          <svg class="links" viewBox="0 0 100 100" preserveAspectRatio="none" aria-hidden="true">
            {layout.links.map(({ from, to }) => {
              const a = at.get(from)!;
              const b = at.get(to)!;
              const down = a.node.state === 'down' || b.node.state === 'down';
              return <line key={`${from}→${to}`} class={down ? 'link down' : 'link'} x1={a.x} y1={a.y} x2={b.x} y2={b.y} vector-effect="non-scaling-stroke" />;
            })}
          </svg>
          <ul class="nodes" aria-label="Processes">
            {layout.placed.map(({ node, x, y }) => (
              <li key={node.id} style={{ left: `${x}%`, top: `${y}%` }}>
                <NodeCard node={node} coordinator={isCoordinator(node.id, node.role)} selected={selected === node.id} onSelect={() => onSelect(node.id)} />
              </li>
            ))}
          </ul>
        </div>
      </div>
    </section>
  );
}
