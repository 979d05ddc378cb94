/**
 * Hands a graph to a client (Dask's compute and persist): planned (plan.ts), then one
 * submitWith per task in topological order, in one turn of the event loop, each task taking the
 * futures of the tasks before it as arguments, so the client's outbox sends the whole graph in
 * one batch. Futures of nodes nobody asked for are dropped at once: the scheduler keeps each
 * result while a dependent still needs it and frees it after.
 */
import type { Client } from '../client/client';
import type { Future } from '../client/future';
import { fromModule } from '../client/fnspec';
import { distFile } from '../paths';
import { defaultClient } from './default-client';
import type { FusedPayload } from './fused';
import { planGraph, type Plan, type PlannedTask } from './plan';
import type { GraphNode } from './types';
import { HOLE, replace, scan, type Path } from './walk';

export interface GraphRunOptions {
  /** Default: the last client that connected in this process (default-client.ts). */
  client?: Client;
  /** Fuse linear chains into one task each (default true; Dask's `optimize_graph`). */
  optimizeGraph?: boolean;
}

/**
 * The fused-chain runner, as workers import it: always dist/ (workers run compiled code, also
 * when this module runs from src/ under ts-jest, as LocalCluster's worker processes do).
 */
const FUSED = fromModule(distFile('graph', 'fused.js'), 'fused');

/**
 * Futures that compute and persist made, by node key, per client: a later graph reuses a node
 * still held (persisted, or being computed by a compute in flight) instead of submitting it
 * again. WeakRefs: remembering a future does not keep its result on the cluster.
 */
const live = new WeakMap<Client, { refs: Map<string, WeakRef<Future>>; sweepAt: number }>();

function heldOf(client: Client, key: string): Future | undefined {
  const f = live.get(client)?.refs.get(key)?.deref();
  return f && f.status !== 'cancelled' ? f : undefined;
}

function remember(client: Client, key: string, f: Future): void {
  let l = live.get(client);
  if (!l) live.set(client, (l = { refs: new Map(), sweepAt: 1024 }));
  l.refs.set(key, new WeakRef(f));
  if (l.refs.size < l.sweepAt) return;
  // Dead entries are swept when the map has doubled since the last sweep: amortised O(1).
  for (const [k, ref] of l.refs) {
    const g = ref.deref();
    if (!g || g.status === 'cancelled') l.refs.delete(k);
  }
  l.sweepAt = Math.max(1024, 2 * l.refs.size);
}

type Swap = (d: GraphNode) => unknown;

function submitTask(client: Client, task: PlannedTask, swap: Swap): Future {
  const nodes = task.nodes;
  const last = nodes[nodes.length - 1];
  if (nodes.length === 1) {
    const args = last.deps.length === 0 ? last.args : (replace(last.args, swap).value as unknown[]);
    // Pure nodes go as pure tasks: the client derives the key from what is submitted (the same
    // as the node's key when its dependencies are not fused), so two plans of one node never
    // claim one key for different work. Explicit and random keys go as they are.
    const key = last.explicitKey || !last.pure ? { key: last.key } : { pure: true };
    return client.submitWith({ ...last.taskOptions, ...key }, last.fn, ...(args as never[]));
  }
  const p: FusedPayload = { keys: [], fns: [], ids: [], specs: [], args: [], holes: [] };
  const index = new Map<string, number>();
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i];
    let at = index.get(n.fnId);
    if (at === undefined) {
      index.set(n.fnId, (at = p.ids.length));
      p.ids.push(n.fnId);
      p.specs.push(n.spec);
    }
    const before = i === 0 ? undefined : nodes[i - 1].key;
    let args = n.args as unknown[];
    let holes: Path[] = [];
    if (n.deps.length > 0) {
      const r = replace(n.args, (d) => (d.key === before ? HOLE : swap(d)));
      args = r.value as unknown[];
      holes = r.holes;
    }
    p.keys.push(n.key);
    p.fns.push(at);
    p.args.push(args);
    p.holes.push(holes);
  }
  return client.submitWith({ ...last.taskOptions, pure: true }, FUSED, p);
}

/**
 * Submits what the nodes inside `value` need; returns `value` with each node swapped for its
 * future, and the futures it made for them (not those it found held).
 */
function submitGraph(
  client: Client,
  value: unknown,
  fuse: boolean,
): { result: unknown; made: Map<string, Future>; plan: Plan } {
  const outputs = scan(value).nodes;
  const plan = planGraph(outputs, { held: (k) => heldOf(client, k), fuse });
  const futures = new Map<string, Future>(plan.held);
  const swap: Swap = (d) => {
    const lit = plan.inlined.get(d.key);
    return lit ? lit.args[0] : futures.get(d.key);
  };
  const made = new Map<string, Future>();
  try {
    for (const task of plan.tasks) {
      const f = submitTask(client, task, swap);
      const key = task.nodes[task.nodes.length - 1].key;
      futures.set(key, f);
      made.set(key, f);
    }
  } catch (err) {
    // A value that cannot travel, a closed client: what went already is let go.
    for (const f of made.values()) f.release();
    throw err;
  }
  const wanted = new Set(outputs.map((o) => o.key));
  for (const [key, f] of made) {
    if (wanted.has(key)) continue;
    f.release();
    made.delete(key);
  }
  return { result: replace(value, (n) => futures.get(n.key)).value, made, plan };
}

/** Futures for the nodes inside `value`, in its shape; they stay on the cluster (Dask's persist). */
export function persistGraph(value: unknown, options: GraphRunOptions = {}): unknown {
  const client = options.client ?? defaultClient();
  const { result, made } = submitGraph(client, value, options.optimizeGraph !== false);
  for (const [key, f] of made) remember(client, key, f);
  return result;
}

/** Values of the nodes (and futures) inside `value`, in its shape (Dask's compute). */
export async function computeGraph(
  value: unknown,
  options: GraphRunOptions = {},
): Promise<unknown> {
  const client = options.client ?? defaultClient();
  const { result, made } = submitGraph(client, value, options.optimizeGraph !== false);
  // A compute in flight shares its outputs with graphs submitted meanwhile.
  for (const [key, f] of made) remember(client, key, f);
  try {
    return await client.gather(result);
  } finally {
    for (const f of made.values()) f.release();
  }
}
