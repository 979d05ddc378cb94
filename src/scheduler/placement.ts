import { aboveTarget } from './memory';
import type { TaskState, WorkerState } from './types';

/**
 * Tasks one worker thread takes at once while tasks are tiny, and the mean duration (s) below
 * which it does: the worker's thread pool (src/worker/pool.ts) batches so.
 */
export const WORKER_BATCH = 64;
export const WORKER_BATCH_BELOW = 0.001;

/**
 * The slots a worker's tasks hold: those processing there, but for the ones that seceded (they
 * wait on futures of their own client and gave their slot back, issue 22). The one rule for it:
 * placement and gangs count load through here.
 */
export function occupied(w: WorkerState): number {
  return w.processing.size - w.seceded.size;
}

/**
 * Where a ready task runs: only workers it may use (name/host/id restrictions, resources), with a
 * free slot and not paused; workers below their memory target before those above it (unless one
 * alone holds an input), then the one that already holds most of its input bytes, then the least
 * busy, then the one holding the fewest bytes, so results spread instead of piling up on the
 * first idle worker. One pass over the workers. Pure bookkeeping over the core's worker map.
 */
export class Placement<P> {
  /** Exponential mean of task durations in seconds; negative until the first one is known. */
  private meanDuration = -1;

  /**
   * @param held Workers held for a waiting gang (gangs.ts decides which): they take no new
   *   ordinary task, so the gang is not starved by a stream of them.
   */
  constructor(
    private readonly workers: Map<string, WorkerState>,
    private readonly pipelineBelow: number,
    private readonly held: ReadonlySet<string> = new Set(),
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

  /** Tasks each of a worker's threads runs at once, as its pool batches them. */
  perThread(): number {
    return this.meanDuration >= 0 && this.meanDuration < WORKER_BATCH_BELOW ? WORKER_BATCH : 1;
  }

  /**
   * A worker that may be given an ordinary task now: not retiring, not paused, not held for a gang
   * (gangs.ts), with a free slot.
   */
  hasRoom(w: WorkerState): boolean {
    return (
      !w.retiring && !w.memory.paused && !this.held.has(w.id) && occupied(w) < this.capacity(w)
    );
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
    let bestFull = true;
    let bestBytes = -1;
    let bestLoad = Infinity;
    let bestHeld = Infinity;
    for (const w of this.workers.values()) {
      if (!this.hasRoom(w) || !this.allowed(w, ts)) continue;
      let bytes = 0;
      let sole = false;
      for (const d of ts.deps) {
        const dep = tasks.get(d);
        if (dep && dep.who.has(w.id)) {
          bytes += dep.nbytes + 1;
          if (dep.who.size === 1) sole = true;
        }
      }
      // Above target, a worker waits behind the others unless an input lives only there.
      const full = !sole && aboveTarget(w);
      if (full && !bestFull) continue;
      const load = occupied(w) / w.info.nthreads;
      // Held bytes, in memory or spilled: steady between heartbeats, unlike memory in use.
      const held = w.nbytes;
      if (
        (bestFull && !full) ||
        bytes > bestBytes ||
        (bytes === bestBytes && (load < bestLoad || (load === bestLoad && held < bestHeld)))
      ) {
        best = w;
        bestFull = full;
        bestBytes = bytes;
        bestLoad = load;
        bestHeld = held;
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
