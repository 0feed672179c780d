// The drill-down panel: the selected process or service as the latest snapshot describes it.
import type { RefObject } from 'preact';
import type { DashboardNode, GatewayDashboard } from '@correio/protocol';
import type { LogFilter } from './logFilter.js';
import { NodeDetails } from './NodeDetails.js';
import { ServiceDetails } from './ServiceDetails.js';

export type Selection = { readonly kind: 'node'; readonly id: string } | { readonly kind: 'service'; readonly name: string };

/** Programs the dashboard names by the monitor's name, which need not be the instance they ship their lines as. */
const BY_PROGRAM: ReadonlySet<string> = new Set(['broker', 'proxy', 'ref', 'gateway']);

/** The log filter of a process: a server's lines by its id (its `--id`, the instance it ships as); the broker, proxy, reference server and gateways by their program. */
const logFilterOf = (node: DashboardNode): Partial<LogFilter> => (BY_PROGRAM.has(node.kind) ? { program: node.kind } : { instance: node.id });

export function Details({ panel, snapshot, selection, onClose, onShowLogs }: { panel: RefObject<HTMLElement>; snapshot: GatewayDashboard; selection: Selection | undefined; onClose: () => void; onShowLogs: (filter: Partial<LogFilter>) => void }) {
  const node = selection?.kind === 'node' ? snapshot.nodes.find((candidate) => candidate.id === selection.id) : undefined;
  const service = selection?.kind === 'service' ? snapshot.services.find((candidate) => candidate.name === selection.name) : undefined;
  const title = selection === undefined ? 'Details' : selection.kind === 'node' ? `${node?.kind ?? 'Process'} ${selection.id}` : `Service ${selection.name}`;
  return (
    <section class="details" id="details" ref={panel} tabIndex={-1} aria-labelledby="details-heading">
      <h2 id="details-heading">{title}</h2>
      {selection === undefined ? (
        <p class="empty">Select a process in the topology or a service to see its details.</p>
      ) : (
        <>
          <button type="button" class="link close" onClick={onClose}>
            Close details
          </button>
          {node && (
            <button type="button" class="link show-logs" onClick={() => onShowLogs(logFilterOf(node))}>
              Show its logs
            </button>
          )}
          {node ? <NodeDetails node={node} intervalMs={snapshot.interval_ms} at={snapshot.at} /> : service ? <ServiceDetails service={service} intervalMs={snapshot.interval_ms} /> : <p class="empty">No longer in the latest snapshot.</p>}
        </>
      )}
    </section>
  );
}
