import type { TaskState, WorkerState } from './types';

/**
 * The tasks a worker that died may have been running: only those count towards KilledWorker
 * (Dask's rule: a task is suspected when a worker dies while executing it, not while it waits in
 * that worker's queue). The scheduler is not told when a task starts; it infers it, since a
 * worker runs the tasks it is sent in the order they came, `perThread` at a time per thread:
 * finished tasks leave `processing` (in sending order), so its first nthreads x perThread tasks
 * are those in the threads, and the rest of the pipeline waits behind them.
 *
 * A task whose inputs had to be fetched, or may have to be read back from disk (its worker has
 * spilled values, and the scheduler does not know which), starts only once they are in memory,
 * possibly after tasks sent later; it cannot be told apart from one still waiting, so each one
 * met before the thread slots are counted out is suspected too, and takes no slot. One behind
 * them all cannot be running: every task ahead of it that waited for nothing would have started
 * first.
 *
 * Exact while the worker's last results reach the scheduler before the news of its death: a
 * result lost with it (or not yet read) keeps its finished task in a slot, and the task behind it
 * goes unsuspected that time. A task that kills every worker it runs on is still suspected at
 * each death where no unreported result is ahead of it, so it still ends in KilledWorker. No op
 * from the worker is needed.
 */
export function runningOn<P>(
  w: WorkerState,
  tasks: ReadonlyMap<string, TaskState<P>>,
  perThread: number,
): TaskState<P>[] {
  const out: TaskState<P>[] = [];
  let slots = w.info.nthreads * perThread;
  for (const key of w.processing) {
    if (slots <= 0) break;
    const ts = tasks.get(key);
    if (!ts) continue;
    out.push(ts);
    if (!ts.startsLate) slots -= 1;
  }
  return out;
}
