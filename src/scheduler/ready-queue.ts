import { IndexedHeap } from './heap';
import type { TaskState, WorkerState } from './types';

/** Higher priority first, then first submitted: the one order for every queued task. */
function runsBefore<P>(a: TaskState<P>, b: TaskState<P>): boolean {
  return a.priority !== b.priority ? a.priority > b.priority : a.seq < b.seq;
}

interface Group<P> {
  signature: string;
  heap: IndexedHeap<TaskState<P>>;
}

/** Queued tasks that share one restriction signature (they may run on the same workers). */
export interface RestrictedGroup<P> {
  signature: string;
  top: TaskState<P>;
  tasks: () => Iterable<TaskState<P>>;
}

/**
 * Tasks that are ready but found no free slot. Unrestricted tasks share one heap; restricted
 * tasks (`workers`, `resources`) get one heap per restriction signature, so handing a worker its
 * next task costs O(G + log n) for G signatures instead of a scan of every restricted task, and
 * every task, restricted or not, leaves in priority-then-FIFO order.
 */
export class ReadyQueue<P> {
  private readonly free: Group<P> = { signature: '', heap: new IndexedHeap(runsBefore) };
  private readonly groups = new Map<string, Group<P>>();

  push(ts: TaskState<P>): void {
    let g = this.free;
    if (ts.workers || ts.resources) {
      ts.signature ??= signatureOf(ts);
      g = this.groups.get(ts.signature) ?? {
        signature: ts.signature,
        heap: new IndexedHeap(runsBefore),
      };
      this.groups.set(ts.signature, g);
    }
    g.heap.push(ts);
  }

  /** Takes a task out wherever it is queued; a no-op for a task that is not. */
  remove(ts: TaskState<P>): void {
    if (ts.heapIndex < 0) return;
    const g = ts.signature === undefined ? this.free : this.groups.get(ts.signature);
    if (!g || !g.heap.remove(ts)) return;
    if (g !== this.free && g.heap.size === 0) this.groups.delete(g.signature);
  }

  /** The restricted tasks, one group per restriction signature: its first task and all of them. */
  *restricted(): IterableIterator<RestrictedGroup<P>> {
    for (const g of this.groups.values()) {
      yield { signature: g.signature, top: g.heap.peek()!, tasks: () => g.heap.values() };
    }
  }

  /** The first task, in queue order, that worker `w` may run now; taken out of the queue. */
  popFor(
    w: WorkerState,
    allowed: (w: WorkerState, ts: TaskState<P>) => boolean,
  ): TaskState<P> | null {
    let best = this.free.heap.peek() ?? null;
    for (const g of this.groups.values()) {
      const top = g.heap.peek()!;
      if ((best === null || runsBefore(top, best)) && allowed(w, top)) best = top;
    }
    if (best) this.remove(best);
    return best;
  }
}

/** Tasks with equal signatures may run on exactly the same workers. */
function signatureOf<P>(ts: TaskState<P>): string {
  const workers = ts.workers ? [...ts.workers].sort() : [];
  const resources = ts.resources ? Object.entries(ts.resources).sort() : [];
  return JSON.stringify([workers, resources]);
}
