/**
 * From requested nodes to the tasks to submit, without a cluster: the graph they need (culled:
 * nothing else is visited), in topological order, with literal data inlined into its one
 * dependent and linear chains fused into one task each (Dask's `cull`, `inline` and `fuse`).
 */
import { ClusterError } from '../errors';
import type { Future } from '../client/future';
import { contentHash } from './keys';
import type { GraphNode, NodeTaskOptions } from './types';

export interface PlannedTask {
  /** The nodes it runs, in order: one, or a fused chain whose last node is the task's output. */
  readonly nodes: GraphNode[];
}

export interface Plan {
  /** In topological order: every task comes after the tasks it depends on. */
  readonly tasks: PlannedTask[];
  /** Literal data put into its only dependent's arguments instead of being a task. */
  readonly inlined: Map<string, GraphNode>;
  /** Nodes already on the cluster (a live future from an earlier persist or compute). */
  readonly held: Map<string, Future>;
  /** Distinct nodes the outputs need, held ones included. */
  readonly size: number;
}

export interface PlanOptions {
  /** The live future for a key, if the cluster has (or is computing) it already. */
  held?: (key: string) => Future | undefined;
  /** Fuse linear chains (default true; Dask's `optimize_graph`). */
  fuse?: boolean;
}

/** Two nodes with one explicit key must be the same work. */
function checkSameWork(a: GraphNode, b: GraphNode): void {
  if (a === b || !(a.explicitKey || b.explicitKey)) return;
  if (a.fnId === b.fnId && contentHash(a.fnId, a.args) === contentHash(b.fnId, b.args)) return;
  throw new ClusterError(
    'ERR_KEY_CONFLICT',
    `two nodes of this graph have the key ${a.key} but other functions or arguments; give each call its own key`,
  );
}

function sameOptions(a: NodeTaskOptions, b: NodeTaskOptions): boolean {
  if (a === b) return true;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The distinct keys of a node's dependencies (two node objects may share a key). */
function depKeys(n: GraphNode): string[] {
  if (n.deps.length === 1) return [n.deps[0].key];
  return [...new Set(n.deps.map((d) => d.key))];
}

/**
 * Every node the outputs need, dependencies first, by key (the first object met stands for its
 * key). An explicit stack: a 10,000-long chain costs no call stack.
 */
function collect(
  outputs: readonly GraphNode[],
  heldOf: (key: string) => Future | undefined,
): { order: GraphNode[]; byKey: Map<string, GraphNode>; held: Map<string, Future> } {
  const byKey = new Map<string, GraphNode>();
  const done = new Set<string>();
  const order: GraphNode[] = [];
  const held = new Map<string, Future>();
  const stack: { node: GraphNode; next: number }[] = [];
  const enter = (n: GraphNode): void => {
    const seen = byKey.get(n.key);
    if (seen) {
      checkSameWork(seen, n);
      if (!done.has(n.key)) {
        throw new ClusterError(
          'ERR_KEY_CONFLICT',
          `node ${n.key} depends on itself (an explicit key reused inside its own arguments)`,
        );
      }
      return;
    }
    byKey.set(n.key, n);
    const f = heldOf(n.key);
    if (f) {
      // On the cluster already: its own dependencies are not needed (culled).
      held.set(n.key, f);
      done.add(n.key);
      order.push(n);
      return;
    }
    stack.push({ node: n, next: 0 });
  };
  for (const out of outputs) {
    enter(out);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next < top.node.deps.length) enter(top.node.deps[top.next++]);
      else {
        stack.pop();
        done.add(top.node.key);
        order.push(top.node);
      }
    }
  }
  return { order, byKey, held };
}

export function planGraph(outputs: readonly GraphNode[], options: PlanOptions = {}): Plan {
  const { order, byKey, held } = collect(outputs, options.held ?? (() => undefined));
  const wanted = new Set(outputs.map((o) => o.key));
  const dependents = new Map<string, number>();
  for (const n of order) {
    if (held.has(n.key)) continue;
    for (const k of depKeys(n)) dependents.set(k, (dependents.get(k) ?? 0) + 1);
  }
  // A literal with one dependent travels inside that dependent's arguments: no task, no hop.
  // One with several stays a task of its own, so its bytes travel once.
  const inlined = new Map<string, GraphNode>();
  for (const n of order) {
    if (n.literal && !wanted.has(n.key) && !held.has(n.key) && dependents.get(n.key) === 1)
      inlined.set(n.key, n);
  }
  // b continues a's chain when a is b's only dependency in the graph and b a's only dependent:
  // the chain runs as one task, saving a scheduler round trip per link. Explicit keys stay
  // tasks of their own (the user named them), and so do links with other task options.
  const prev = new Map<string, GraphNode>();
  const fusedAway = new Set<string>();
  if (options.fuse !== false) {
    for (const b of order) {
      if (held.has(b.key) || inlined.has(b.key) || b.explicitKey) continue;
      const g = depKeys(b).filter((k) => !inlined.has(k) && !held.has(k));
      if (g.length !== 1) continue;
      const a = byKey.get(g[0])!;
      if (wanted.has(a.key) || a.explicitKey || dependents.get(a.key) !== 1) continue;
      if (!sameOptions(a.taskOptions, b.taskOptions)) continue;
      prev.set(b.key, a);
      fusedAway.add(a.key);
    }
  }
  const tasks: PlannedTask[] = [];
  for (const n of order) {
    if (held.has(n.key) || inlined.has(n.key) || fusedAway.has(n.key)) continue;
    const chain = [n];
    for (let p = prev.get(n.key); p; p = prev.get(p.key)) chain.push(p);
    tasks.push({ nodes: chain.reverse() });
  }
  return { tasks, inlined, held, size: order.length };
}
