import type { TaskState, WorkerState } from './types';

/**
 * Which tasks a worker that died may have been running: only those count towards KilledWorker
 * (Dask's rule: a task is suspected when a worker dies while executing it, not while it waits in
 * that worker's queue). The worker does not say when a task starts; the scheduler infers it from
 * how the worker runs them: its pool takes tasks first come, first served, `perThread` at a time
 * per thread (so at most S = nthreads x perThread run at once), and a task enters the pool when
 * its compute arrives, or, if it must bring an input into memory first, once that is done.
 *
 * - A task whose inputs were all in its worker's memory when it was sent enters in sending order.
 *   Finished tasks leave `processing` (kept in sending order), so the first S left are running
 *   and the rest of the pipeline waits behind them.
 * - A task that must fetch an input enters once the last one arrives (the worker reports each
 *   with add-keys): until then it has not started; after, it may have, ahead of tasks sent
 *   earlier that are still fetching. Such tasks enter in the order their inputs arrived: the
 *   first S of them that are not behind S tasks of the first kind are suspected too.
 * - On a worker that has spilled values the scheduler cannot tell whether a task's inputs are in
 *   memory; the worker reads spilled ones back only once the pool has taken every task ahead, so
 *   such a task counts as one whose inputs arrived when it was sent.
 *
 * Exact while the worker's last messages reach the scheduler before the news of its death: a
 * result lost with it (or not yet read) keeps its finished task in a slot, and the task behind it
 * goes unsuspected that time; a task that kills every worker it runs on is still suspected at
 * each death where none is, so it still ends in KilledWorker. No op from the worker is needed.
 */
export class StartOrder<P> {
  /** Orders the moments tasks' inputs were all in their worker's memory. */
  private stamps = 0;

  /** A task is sent to `w`: how it will enter the pool (`TaskState.late`). */
  sent(ts: TaskState<P>, w: WorkerState, tasks: ReadonlyMap<string, TaskState<P>>): void {
    let missing = 0;
    for (const d of ts.deps) if (!tasks.get(d)!.who.has(w.id)) missing += 1;
    if (missing > 0) ts.late = -missing;
    else ts.late = ts.deps.size > 0 && w.memory.spilledCount > 0 ? ++this.stamps : 0;
  }

  /** `dep` has reached worker `wid` (add-keys): tasks there waiting for it may now start. */
  arrived(dep: TaskState<P>, wid: string, tasks: ReadonlyMap<string, TaskState<P>>): void {
    for (const d of dep.waiters) {
      const ts = tasks.get(d);
      if (ts && ts.processingOn === wid && ts.late < 0 && ++ts.late === 0) ts.late = ++this.stamps;
    }
  }

  /** The tasks that dead worker `w` may have been running. */
  runningOn(
    w: WorkerState,
    tasks: ReadonlyMap<string, TaskState<P>>,
    perThread: number,
  ): TaskState<P>[] {
    const slots = w.info.nthreads * perThread;
    const out: TaskState<P>[] = [];
    const ready: TaskState<P>[] = [];
    for (const key of w.processing) {
      // Behind `slots` unfinished tasks that entered the pool before it, nothing can be running.
      if (out.length >= slots) break;
      const ts = tasks.get(key);
      if (!ts) continue;
      if (ts.late === 0) out.push(ts);
      else if (ts.late > 0) ready.push(ts);
    }
    ready.sort((a, b) => a.late - b.late);
    for (let i = 0; i < ready.length && i < slots; i++) out.push(ready[i]);
    return out;
  }
}
