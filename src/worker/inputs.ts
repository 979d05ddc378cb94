/**
 * A run's inputs on their way to the thread pool. Small ones in memory: at once, so tiny tasks
 * queue in the pool and go to threads in batches. Large ones (BATCH_BYTES or more between them),
 * and spilled ones, for one run at a time, and only once the pool has taken every run before
 * it: a run waiting in the pool holds its inputs' buffers, which spilling them then cannot free
 * (a paused worker's queue once held more than its memory limit that way), and reading every
 * waiting run's inputs back at once would bring back more than memory holds. Spilled inputs
 * stay on disk (held.ts).
 */
import type { Held, HeldData } from './held';
import type { PoolTask, ThreadPool } from './pool';
import { BATCH_BYTES } from './thread-messages';
import { packedBytes } from '../protocol';

export class InputLoader {
  /** Runs waiting for spilled inputs (a cancel removes them). */
  private readonly waiting = new Set<number>();
  private queue: { task: PoolTask; keys: string[] }[] = [];
  private loading = false;

  constructor(
    private readonly held: HeldData,
    private readonly pool: ThreadPool,
    /** An input could not be read back: the run errs (ERR_SPILL). */
    private readonly lost: (task: PoolTask, key: string) => void,
    private readonly closed: () => boolean,
  ) {}

  /** Hands `task` to the pool with its inputs, now or once they are read back. */
  submit(task: PoolTask, deps: [string, Held][]): void {
    let bytes = 0;
    for (const [, h] of deps) bytes += packedBytes(h.frames ?? []);
    const inMemory = deps.every(([, h]) => h.frames !== null);
    // Nothing waits here before it (runs go in order), and the run holds little or is next.
    if (inMemory && this.waiting.size === 0 && (bytes < BATCH_BYTES || this.pool.queued === 0)) {
      for (const [k] of deps) this.held.memory.touched(k);
      task.deps = deps.map(([k, h]) => [k, h.frames!]);
      this.pool.submit(task);
      return;
    }
    this.waiting.add(task.run);
    this.queue.push({ task, keys: deps.map(([k]) => k) });
    void this.load();
  }

  /** Drops a run still waiting for its inputs; false if it is not one. */
  cancel(run: number): boolean {
    return this.waiting.delete(run);
  }

  private async load(): Promise<void> {
    if (this.loading) return;
    this.loading = true;
    try {
      for (let l = this.queue.shift(); l; l = this.queue.shift()) {
        await this.pool.whenQueueEmpty();
        if (!this.waiting.has(l.task.run) || this.closed()) continue;
        const frames = await Promise.all(l.keys.map((k) => this.held.frames(k)));
        if (!this.waiting.delete(l.task.run) || this.closed()) continue;
        const missing = l.keys.find((_, i) => !frames[i]);
        if (missing) {
          this.lost(l.task, missing);
          continue;
        }
        l.task.deps = l.keys.map((k, i) => [k, frames[i]!]);
        this.pool.submit(l.task);
      }
    } finally {
      this.loading = false;
    }
  }
}
