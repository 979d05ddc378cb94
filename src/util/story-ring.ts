/**
 * The last `limit` transitions of a state machine's keys, with what caused each: the one ring
 * behind the scheduler's and the worker's `story(key)`. Parallel arrays, so recording allocates
 * nothing and a long run's log stays bounded.
 */
export interface StoryEntry<S> {
  key: string;
  from: S;
  to: S;
  cause: string;
  /** When (ms), for machines that are given the time. */
  now?: number;
}

export class StoryRing<S> {
  private readonly keys: string[];
  private readonly from: S[];
  private readonly to: S[];
  private readonly cause: string[];
  private readonly at: (number | undefined)[];
  private next = 0;

  constructor(private readonly limit: number) {
    this.keys = new Array(limit);
    this.from = new Array(limit);
    this.to = new Array(limit);
    this.cause = new Array(limit);
    this.at = new Array(limit);
  }

  record(key: string, from: S, to: S, cause: string, now?: number): void {
    const i = this.next++ % this.limit;
    this.keys[i] = key;
    this.from[i] = from;
    this.to[i] = to;
    this.cause[i] = cause;
    this.at[i] = now;
  }

  /** Why a key is where it is: its transitions still in the ring, oldest first. */
  story(key: string): StoryEntry<S>[] {
    const out: StoryEntry<S>[] = [];
    for (let n = Math.max(0, this.next - this.limit); n < this.next; n++) {
      const i = n % this.limit;
      if (this.keys[i] !== key) continue;
      const e: StoryEntry<S> = { key, from: this.from[i], to: this.to[i], cause: this.cause[i] };
      if (this.at[i] !== undefined) e.now = this.at[i];
      out.push(e);
    }
    return out;
  }
}
