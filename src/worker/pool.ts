import * as path from 'node:path';
import { Worker as Thread } from 'node:worker_threads';
import type { FnSpec } from '../protocol';
import { log } from '../log';
import type { ThreadResult, ThreadTask } from './thread-messages';
import { FN_CACHE_SIZE, Lru } from '../util/lru';

interface Slot {
  thread: Thread;
  /** Tasks posted to the thread and not answered yet (one batch). */
  inFlight: PoolTask[];
  /** What the thread's compiled-function cache holds, kept in step with it (Lru). */
  fns: Lru<string, true>;
}

export interface PoolTask {
  key: string;
  fnId: string;
  spec: FnSpec;
  args: Buffer[];
  deps: [string, Buffer[]][];
  /** Run in a batch of its own: it was in a batch whose thread died. */
  alone?: boolean;
}

/** Tasks one thread takes at once while tasks are tiny. */
const BATCH = 64;

/**
 * `nthreads` executor threads. A free thread takes the next task; while tasks are tiny (a mean
 * under 1 ms) a thread takes up to 64 at once and answers them in one message, to cut
 * per-message overhead. A thread that dies (a task called process.exit(), an error thrown
 * outside the task's promise, out of memory) is replaced: the task it ran errs with
 * ERR_THREAD_EXITED; tasks batched with it run again one at a time, so only the culprit errs.
 */
export class ThreadPool {
  private readonly slots: Slot[] = [];
  private ready: PoolTask[] = [];
  private meanDuration = -1;
  private closing = false;

  constructor(
    nthreads: number,
    private readonly onResult: (results: ThreadResult[]) => void,
  ) {
    for (let i = 0; i < nthreads; i++) this.slots.push(this.startThread());
  }

  private startThread(): Slot {
    const thread = new Thread(path.join(__dirname, 'executor.js'));
    const slot: Slot = { thread, inFlight: [], fns: new Lru(FN_CACHE_SIZE) };
    thread.on('message', (results: ThreadResult[]) => {
      slot.inFlight = [];
      for (const r of results) {
        this.meanDuration =
          this.meanDuration < 0 ? r.duration : 0.9 * this.meanDuration + 0.1 * r.duration;
      }
      this.onResult(results);
      this.dispatch();
    });
    let crash: Error | null = null;
    thread.on('error', (err) => (crash = err));
    thread.on('exit', (code) => {
      if (this.closing) return;
      const lost = slot.inFlight;
      const why = crash ? `${crash.name}: ${crash.message}` : `exit code ${code}`;
      log.warn(`executor thread died (${why}); starting another`);
      this.slots[this.slots.indexOf(slot)] = this.startThread();
      if (lost.length === 1) {
        this.onResult([
          {
            key: lost[0].key,
            duration: 0,
            error: {
              name: 'ThreadExited',
              code: 'ERR_THREAD_EXITED',
              message: `the thread running this task died (${why}): the task called process.exit(), threw outside its promise, or ran out of memory`,
            },
          },
        ]);
      } else {
        for (const t of lost) t.alone = true;
        this.ready = lost.concat(this.ready);
      }
      this.dispatch();
    });
    return slot;
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
      if (slot.inFlight.length > 0) continue;
      // A batch ends before the first task that must run alone (or is that task only).
      let n = this.ready[0].alone || !tiny ? 1 : Math.min(this.ready.length, BATCH);
      for (let i = 1; i < n; i++) {
        if (this.ready[i].alone) n = i;
      }
      slot.inFlight = this.ready.splice(0, n);
      const batch: ThreadTask[] = slot.inFlight.map((t) => {
        const first = !slot.fns.use(t.fnId, true);
        return {
          key: t.key,
          fnId: t.fnId,
          spec: first ? t.spec : undefined,
          args: t.args,
          deps: t.deps,
        };
      });
      slot.thread.postMessage(batch);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => s.thread.terminate()));
  }
}
