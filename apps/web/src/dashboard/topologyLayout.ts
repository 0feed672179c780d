// Where each process sits in the topology diagram and which links to draw: gateways on top, the
// broker, proxy and reference server in the middle, chat servers (and other workers) below, in rows
// of at most SERVERS_PER_ROW. Positions are percentages of the diagram's box.
import type { DashboardNode } from '@correio/protocol';

export interface Placed {
  readonly node: DashboardNode;
  readonly x: number;
  readonly y: number;
}

export interface Link {
  readonly from: string;
  readonly to: string;
}

export interface Layout {
  readonly placed: readonly Placed[];
  readonly links: readonly Link[];
  /** Rows of nodes: the diagram's height follows it. */
  readonly rows: number;
  /** Nodes in the widest row: the diagram's least width follows it. */
  readonly widest: number;
}

const SERVERS_PER_ROW = 6;
/** Which middle-tier processes each kind talks to. */
const LINKS_OF: Partial<Record<DashboardNode['kind'], readonly DashboardNode['kind'][]>> = {
  gateway: ['broker', 'proxy'],
  server: ['broker', 'proxy', 'ref'],
  worker: ['broker'],
};

const byRank = (a: DashboardNode, b: DashboardNode) => (a.rank ?? Number.MAX_SAFE_INTEGER) - (b.rank ?? Number.MAX_SAFE_INTEGER) || a.id.localeCompare(b.id, undefined, { numeric: true });

/** Spreads `count` items evenly across the width: the x of item `index`. */
const spread = (index: number, count: number) => ((index + 0.5) / count) * 100;

export function layOut(nodes: readonly DashboardNode[]): Layout {
  const top = nodes.filter((node) => node.kind === 'gateway');
  const middle = (['broker', 'proxy', 'ref'] as const).flatMap((kind) => nodes.filter((node) => node.kind === kind));
  const bottom = nodes.filter((node) => node.kind === 'server' || node.kind === 'worker').sort((a, b) => (a.kind === b.kind ? byRank(a, b) : a.kind === 'server' ? -1 : 1));
  const bottomRows: DashboardNode[][] = [];
  for (let start = 0; start < bottom.length; start += SERVERS_PER_ROW) bottomRows.push(bottom.slice(start, start + SERVERS_PER_ROW));
  const rows = [top, middle, ...bottomRows].filter((row) => row.length > 0);
  const placed = rows.flatMap((row, rowIndex) => row.map((node, index) => ({ node, x: spread(index, row.length), y: spread(rowIndex, rows.length) })));

  const links: Link[] = [];
  for (const node of nodes) {
    for (const kind of LINKS_OF[node.kind] ?? []) {
      for (const peer of middle) if (peer.kind === kind) links.push({ from: node.id, to: peer.id });
    }
  }
  return { placed, links, rows: rows.length, widest: Math.max(0, ...rows.map((row) => row.length)) };
}
