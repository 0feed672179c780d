// Servers report their clock against the time the last Berkeley round agreed on (their /health
// clock_offset_us); the dashboard shows each against the coordinator's, as the round measured it.
// Both come from one round: (mine − agreed) − (coordinator − agreed) = mine − coordinator.
import type { DashboardNode } from './nodeStats.js';

/** The nodes with every server's clock_offset_us made relative to the coordinator's; without the coordinator's, none is shown. */
export function offsetsAgainstCoordinator(nodes: readonly DashboardNode[], coordinator: string | undefined): DashboardNode[] {
  const reference = nodes.find((node) => node.kind === 'server' && node.id === coordinator)?.clock_offset_us;
  return nodes.map((node) => {
    if (node.kind !== 'server' || node.clock_offset_us === undefined) return node;
    const { clock_offset_us: own, ...rest } = node;
    return reference === undefined ? rest : { ...rest, clock_offset_us: own - reference };
  });
}
