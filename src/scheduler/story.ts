import type { Transition } from './types';

/** Transitions kept for story(): a ring of parallel arrays, so recording allocates nothing. */
export const STORY_LIMIT = 100_000;

/** The last STORY_LIMIT transitions of every task, with the event that caused each. */
export class StoryLog {
  private readonly keys: string[] = new Array(STORY_LIMIT);
  private readonly from: Transition['from'][] = new Array(STORY_LIMIT);
  private readonly to: Transition['to'][] = new Array(STORY_LIMIT);
  private readonly cause: string[] = new Array(STORY_LIMIT);
  private next = 0;

  record(key: string, from: Transition['from'], to: Transition['to'], cause: string): void {
    const i = this.next++ % STORY_LIMIT;
    this.keys[i] = key;
    this.from[i] = from;
    this.to[i] = to;
    this.cause[i] = cause;
  }

  /** Why a task is where it is: its transitions still in the ring, oldest first. */
  story(key: string): Transition[] {
    const out: Transition[] = [];
    for (let n = Math.max(0, this.next - STORY_LIMIT); n < this.next; n++) {
      const i = n % STORY_LIMIT;
      if (this.keys[i] === key) {
        out.push({ key, from: this.from[i], to: this.to[i], cause: this.cause[i] });
      }
    }
    return out;
  }
}
