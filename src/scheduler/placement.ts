import type { TaskState, WorkerState } from './types';

/**
 * Where a ready task runs: only workers it may use (name/host/id restrictions, resources), with a
 * free slot, preferring the one that already holds most of its input bytes, then the least busy.
 * Pure bookkeeping over the core's worker map.
 */
export class Placement<P> {
  /** Exponential mean of task durations in seconds; negative until the first one is known. */
  private meanDuration = -1;

  constructor(
    private readonly workers: Map<string, WorkerState>,
    private readonly pipelineBelow: number,
  ) {}

  observe(duration: number): void {
    if (!(duration >= 0)) return;
    this.meanDuration = this.meanDuration < 0 ? duration : 0.9 * this.meanDuration + 0.1 * duration;
  }

  /** Tasks a worker may hold at once: its threads, plus a pipeline while tasks are tiny. */
  capacity(w: WorkerState): number {
    const n = w.info.nthreads;
    const tiny = this.meanDuration >= 0 && this.meanDuration < this.pipelineBelow;
    return tiny ? n * 64 + 2 : n;
  }

  hasRoom(w: WorkerState): boolean {
    return !w.retiring && w.processing.size < this.capacity(w);
  }

  allowed(w: WorkerState, ts: TaskState<P>): boolean {
    if (ts.workers) {
      const { id, name, host, address } = w.info;
      if (!ts.workers.some((x) => x === id || x === name || x === host || x === address)) {
        return false;
      }
    }
    if (ts.resources) {
      const have = w.info.resources ?? {};
      for (const [r, amount] of Object.entries(ts.resources)) {
        if ((have[r] ?? 0) - (w.used[r] ?? 0) < amount) return false;
      }
    }
    return true;
  }

  choose(ts: TaskState<P>, tasks: Map<string, TaskState<P>>): string | null {
    let best: WorkerState | null = null;
    let bestBytes = -1;
    let bestLoad = Infinity;
    for (const w of this.workers.values()) {
      if (!this.hasRoom(w) || !this.allowed(w, ts)) continue;
      let bytes = 0;
      for (const d of ts.deps) {
        const dep = tasks.get(d);
        if (dep && dep.who.has(w.id)) bytes += dep.nbytes + 1;
      }
      const load = w.processing.size / w.info.nthreads;
      if (bytes > bestBytes || (bytes === bestBytes && load < bestLoad)) {
        best = w;
        bestBytes = bytes;
        bestLoad = load;
      }
    }
    return best ? best.id : null;
  }

  reserve(w: WorkerState, ts: TaskState<P>): void {
    if (!ts.resources) return;
    for (const [r, amount] of Object.entries(ts.resources)) w.used[r] = (w.used[r] ?? 0) + amount;
  }

  unreserve(w: WorkerState, ts: TaskState<P>): void {
    if (!ts.resources) return;
    for (const [r, amount] of Object.entries(ts.resources)) w.used[r] = (w.used[r] ?? 0) - amount;
  }
}
