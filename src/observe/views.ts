import { memoryFigures } from '../scheduler/memory';
import type { TaskStateName, WorkerState } from '../scheduler/types';
import type { WorkerInfoWire } from '../protocol/messages';
import type { WorkerStats } from './dashboard';

/**
 * The data behind the dashboard's pages other than /status (issue 24): /workers, a worker's own
 * page, /graph and /info, each served as JSON that its page fetches once a second. Pure: what
 * the scheduler holds in, plain objects out; each costs the number of workers, or of tasks up
 * to GRAPH_LIMIT, never more.
 */
export interface ViewSource {
  core: {
    workers: ReadonlyMap<string, WorkerState>;
    tasks: ReadonlyMap<
      string,
      { state: TaskStateName; deps: ReadonlySet<string>; processingOn: string | null }
    >;
  };
  workerStats(id: string): WorkerStats | undefined;
}

/** The most tasks /graph draws; beyond it the page says how many there are instead. */
export const GRAPH_LIMIT = 5000;
/** Samples kept per worker for its page's history: one a second, five minutes. */
export const HISTORY_SAMPLES = 300;
/** Keys listed per worker as running or held on its page. */
const KEYS_LISTED = 200;

/** A worker's row: what it registered with, and its memory and place in the list now. */
export interface WorkerRow extends Pick<
  WorkerInfoWire,
  'id' | 'name' | 'host' | 'address' | 'nthreads' | 'memoryLimit'
> {
  managed: number;
  unmanaged: number;
  spilled: number;
  spilledCount: number;
  paused: boolean;
  cpu: number | null;
  rss: number | null;
  lag: number | null;
  running: number;
  held: number;
}

export function workerRow(w: WorkerState, stats: WorkerStats | undefined): WorkerRow {
  const m = memoryFigures(w);
  return {
    id: w.id,
    name: w.info.name,
    host: w.info.host,
    address: w.info.address,
    nthreads: w.info.nthreads,
    memoryLimit: w.info.memoryLimit,
    managed: m.managed,
    unmanaged: m.unmanaged,
    spilled: m.spilled,
    spilledCount: m.spilledCount,
    paused: m.paused,
    cpu: stats?.cpu ?? null,
    rss: stats?.rss ?? null,
    lag: stats?.lag ?? null,
    running: w.processing.size,
    held: w.has.size,
  };
}

export function workersView(source: ViewSource): { workers: WorkerRow[] } {
  const workers = [...source.core.workers.values()].map((w) =>
    workerRow(w, source.workerStats(w.id)),
  );
  workers.sort((a, b) => a.name.localeCompare(b.name));
  return { workers };
}

/** A worker's figures over time: parallel arrays, oldest first. */
export interface WorkerHistory {
  at: number[];
  managed: number[];
  unmanaged: number[];
  spilled: number[];
  cpu: number[];
  lag: number[];
}

/** Keeps HISTORY_SAMPLES samples of each worker's figures; sample() once a second. */
export class WorkerHistories {
  private readonly byWorker = new Map<string, WorkerHistory>();

  sample(source: ViewSource, now = Date.now()): void {
    for (const w of source.core.workers.values()) {
      const r = workerRow(w, source.workerStats(w.id));
      let h = this.byWorker.get(w.id);
      if (!h) {
        h = { at: [], managed: [], unmanaged: [], spilled: [], cpu: [], lag: [] };
        this.byWorker.set(w.id, h);
      }
      h.at.push(now);
      h.managed.push(r.managed);
      h.unmanaged.push(r.unmanaged);
      h.spilled.push(r.spilled);
      h.cpu.push(r.cpu ?? 0);
      h.lag.push(r.lag ?? 0);
      if (h.at.length > HISTORY_SAMPLES) {
        for (const a of Object.values(h) as number[][]) a.shift();
      }
    }
    for (const id of this.byWorker.keys()) {
      if (!source.core.workers.has(id)) this.byWorker.delete(id);
    }
  }

  of(id: string): WorkerHistory | undefined {
    return this.byWorker.get(id);
  }
}

export function workerView(
  source: ViewSource,
  histories: WorkerHistories,
  id: string,
): { worker: WorkerRow; running: string[]; held: string[]; history: WorkerHistory } | null {
  const w = source.core.workers.get(id);
  if (!w) return null;
  const first = (keys: Iterable<string>) => {
    const out: string[] = [];
    for (const k of keys) {
      if (out.length >= KEYS_LISTED) break;
      out.push(k);
    }
    return out;
  };
  return {
    worker: workerRow(w, source.workerStats(id)),
    running: first(w.processing),
    held: first(w.has),
    history: histories.of(id) ?? {
      at: [],
      managed: [],
      unmanaged: [],
      spilled: [],
      cpu: [],
      lag: [],
    },
  };
}

/** Tasks as nodes (key, state, worker) and edges as indices of each node's deps. */
export type GraphView =
  | { nodes: { key: string; state: TaskStateName; worker: string | null; deps: number[] }[] }
  | { tooMany: number; limit: number };

export function graphView(source: ViewSource, limit = GRAPH_LIMIT): GraphView {
  const tasks = source.core.tasks;
  if (tasks.size > limit) return { tooMany: tasks.size, limit };
  const index = new Map<string, number>();
  let i = 0;
  for (const key of tasks.keys()) index.set(key, i++);
  const nodes = [];
  for (const [key, t] of tasks) {
    const deps: number[] = [];
    for (const d of t.deps) {
      const at = index.get(d);
      if (at !== undefined) deps.push(at);
    }
    const worker = t.processingOn
      ? (source.core.workers.get(t.processingOn)?.info.name ?? null)
      : null;
    nodes.push({ key, state: t.state, worker, deps });
  }
  return { nodes };
}
