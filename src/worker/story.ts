import type { StoryState, WorkerTransition } from './state-types';

/** Transitions kept for story(): a ring, so a long-lived worker's log stays bounded. */
export const WORKER_STORY_LIMIT = 50_000;

/** The last WORKER_STORY_LIMIT transitions of the worker's keys, with what caused each. */
export class WorkerStoryLog {
  private readonly ring: WorkerTransition[] = [];
  private next = 0;

  record(key: string, from: StoryState, to: StoryState, cause: string, now: number): void {
    const t = { key, from, to, cause, now };
    if (this.ring.length < WORKER_STORY_LIMIT) this.ring.push(t);
    else this.ring[this.next % WORKER_STORY_LIMIT] = t;
    this.next++;
  }

  /** Why a key is where it is: its transitions still in the ring, oldest first. */
  story(key: string): WorkerTransition[] {
    const out: WorkerTransition[] = [];
    const n = this.ring.length;
    const start = this.next > n ? this.next % n : 0;
    for (let i = 0; i < n; i++) {
      const t = this.ring[(start + i) % n];
      if (t.key === key) out.push(t);
    }
    return out;
  }
}
