import type { Future } from '../client/future';
import type { GraphNode } from './types';
import { scan } from './walk';

const quote = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/**
 * Graphviz text of the graph the nodes need (Dask's visualize): calls as ellipses labelled with
 * their function's name, data as boxes, futures (results already submitted) as dashed boxes;
 * edges run from a dependency to its dependent. Nodes are named by key, so a shared sub-graph
 * appears once. `dot -Tsvg graph.dot > graph.svg` draws it.
 */
export function toDot(outputs: readonly GraphNode[]): string {
  const lines = ['digraph delayed {', '  rankdir=BT;'];
  const seen = new Set<string>();
  const futures = new Set<string>();
  const stack = [...outputs];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n.key)) continue;
    seen.add(n.key);
    const shape = n.literal ? 'box' : 'ellipse';
    lines.push(`  ${quote(n.key)} [label=${quote(n.name)}, shape=${shape}];`);
    const edges = new Set<string>();
    for (const d of n.deps) {
      edges.add(d.key);
      stack.push(d);
    }
    if (n.hasFutures) {
      const fs: Future[] = [];
      scan(n.args, fs);
      for (const f of fs) {
        edges.add(f.key);
        if (futures.has(f.key)) continue;
        futures.add(f.key);
        lines.push(`  ${quote(f.key)} [label="future", shape=box, style=dashed];`);
      }
    }
    for (const k of edges) lines.push(`  ${quote(k)} -> ${quote(n.key)};`);
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}
