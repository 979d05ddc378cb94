import * as path from 'node:path';
import { Worker as Thread } from 'node:worker_threads';
import type { FnSpec } from '../protocol';
import type { ThreadResult, ThreadTask } from './thread-messages';
import { FN_CACHE_SIZE, Lru } from '../util/lru';

interface Slot {
  thread: Thread;
  busy: number;
  /** What the thread's compiled-function cache holds, kept in step with it (Lru). */
  fns: Lru<string, true>;
}

export interface PoolTask {
  key: string;
  fnId: string;
  spec: FnSpec;
  args: Buffer[];
  deps: [string, Buffer[]][];
}

/**
 * `nthreads` executor threads. A free thread takes the next task; while tasks are tiny (a mean
 * under 1 ms) a thread takes up to 64 at once and answers them in one message, to cut per-message overhead.
 */
export class ThreadPool {
  private slots: Slot[] = [];
  private ready: PoolTask[] = [];
  private meanDuration = -1;

  constructor(
    nthreads: number,
    private readonly onResult: (results: ThreadResult[]) => void,
    private readonly onCrash: (err: Error) => void,
  ) {
    const script = path.join(__dirname, 'executor.js');
    for (let i = 0; i < nthreads; i++) {
      const thread = new Thread(script);
      const slot: Slot = { thread, busy: 0, fns: new Lru(FN_CACHE_SIZE) };
      thread.on('message', (results: ThreadResult[]) => {
        slot.busy -= results.length;
        for (const r of results) {
          this.meanDuration =
            this.meanDuration < 0 ? r.duration : 0.9 * this.meanDuration + 0.1 * r.duration;
        }
        this.onResult(results);
        this.dispatch();
      });
      thread.on('error', (err) => this.onCrash(err));
      this.slots.push(slot);
    }
  }

  get queued(): number {
    return this.ready.length;
  }

  submit(task: PoolTask): void {
    this.ready.push(task);
    this.dispatch();
  }

  /** Drops a task that has not started yet; returns whether it was found. */
  remove(key: string): boolean {
    const i = this.ready.findIndex((t) => t.key === key);
    if (i < 0) return false;
    this.ready.splice(i, 1);
    return true;
  }

  private dispatch(): void {
    const tiny = this.meanDuration >= 0 && this.meanDuration < 0.001;
    for (const slot of this.slots) {
      if (this.ready.length === 0) return;
      if (slot.busy > 0) continue;
      const n = tiny ? Math.min(this.ready.length, 64) : 1;
      const batch: ThreadTask[] = this.ready.splice(0, n).map((t) => {
        const first = !slot.fns.use(t.fnId, true);
        return {
          key: t.key,
          fnId: t.fnId,
          spec: first ? t.spec : undefined,
          args: t.args,
          deps: t.deps,
        };
      });
      slot.busy += batch.length;
      slot.thread.postMessage(batch);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.thread.terminate()));
  }
}
