import type { TaskState, WorkerState } from './types';

/** One key to copy from a worker holding more than the mean to one holding less, then free. */
export interface Move {
  key: string;
  from: string;
  to: string;
  nbytes: number;
}

/**
 * Which keys to move so that the bytes each worker holds come near the mean (Dask's
 * `Client.rebalance`). Senders: workers above the mean, fullest first, giving their largest keys
 * first; each key goes to the worker holding the fewest bytes (after the moves planned so far)
 * that does not hold it already, is not paused and not retiring, and only when the move brings
 * the two closer (its bytes are fewer than their difference), so every move lowers the spread and
 * the plan ends. Keys that are inputs of a task processing on the sender stay, as do retiring
 * workers' keys (retirement moves those). `only` limits it to those keys.
 * O(K log K + K x W) for K keys held by senders and W workers.
 */
export function planRebalance<P>(
  workers: ReadonlyMap<string, WorkerState>,
  tasks: ReadonlyMap<string, TaskState<P>>,
  only: ReadonlySet<string> | null,
): Move[] {
  const live = [...workers.values()].filter((w) => !w.retiring);
  if (live.length < 2) return [];
  const planned = new Map<WorkerState, number>(live.map((w) => [w, w.nbytes]));
  const mean = live.reduce((a, w) => a + w.nbytes, 0) / live.length;
  const receivers = live.filter((w) => !w.memory.paused);
  const moves: Move[] = [];
  const senders = live.filter((w) => w.nbytes > mean).sort((a, b) => b.nbytes - a.nbytes);
  for (const s of senders) {
    const keys: TaskState<P>[] = [];
    for (const key of s.has) {
      if (only && !only.has(key)) continue;
      const ts = tasks.get(key);
      if (ts && ts.state === 'memory' && ts.nbytes > 0 && !feedsTaskOn(ts, s.id, tasks)) {
        keys.push(ts);
      }
    }
    keys.sort((a, b) => b.nbytes - a.nbytes);
    for (const ts of keys) {
      if (planned.get(s)! <= mean) break;
      let to: WorkerState | null = null;
      for (const r of receivers) {
        if (r === s || ts.who.has(r.id)) continue;
        if (to === null || planned.get(r)! < planned.get(to)!) to = r;
      }
      if (to === null || ts.nbytes >= planned.get(s)! - planned.get(to)!) continue;
      planned.set(s, planned.get(s)! - ts.nbytes);
      planned.set(to, planned.get(to)! + ts.nbytes);
      moves.push({ key: ts.key, from: s.id, to: to.id, nbytes: ts.nbytes });
    }
  }
  return moves;
}

/** Whether a task processing on `wid` takes `ts` as an input (freeing it there would hurt). */
export function feedsTaskOn<P>(
  ts: TaskState<P>,
  wid: string,
  tasks: ReadonlyMap<string, TaskState<P>>,
): boolean {
  for (const d of ts.waiters) if (tasks.get(d)?.processingOn === wid) return true;
  return false;
}

/** A rebalance asked by a client: its moves still under way, and what is done. */
interface Request {
  client: string;
  req: number;
  pending: Move[];
  moved: number;
  bytes: number;
  /** Moves not done by this time (ms) are given up: their copy never came. */
  deadline: number;
}

/** How long a rebalance waits for a copy before giving that move up (ms). */
export const REBALANCE_TIMEOUT_MS = 60_000;

export interface RebalanceDone {
  client: string;
  req: number;
  moved: number;
  bytes: number;
}

/**
 * Rebalances under way. The core asks the receivers for copies (acquire-replicas); after every
 * batch of events `progress` looks at each move: once the receiver holds the key, the sender's
 * copy is freed (unless a task there now needs it); a move whose key, sender or receiver is gone
 * is dropped. A request ends when none of its moves is left.
 */
export class Rebalances {
  private readonly requests: Request[] = [];

  get busy(): boolean {
    return this.requests.length > 0;
  }

  start(client: string, req: number, moves: Move[], now: number): void {
    this.requests.push({
      client,
      req,
      pending: moves,
      moved: 0,
      bytes: 0,
      deadline: now + REBALANCE_TIMEOUT_MS,
    });
  }

  /**
   * Settles the moves whose copy arrived or can no longer arrive; `free` drops the sender's copy
   * (the core's bookkeeping and the free-keys to the sender). Returns the requests now done.
   */
  progress<P>(
    workers: ReadonlyMap<string, WorkerState>,
    tasks: ReadonlyMap<string, TaskState<P>>,
    now: number,
    free: (ts: TaskState<P>, from: WorkerState) => void,
  ): RebalanceDone[] {
    const done: RebalanceDone[] = [];
    for (let i = 0; i < this.requests.length; i++) {
      const r = this.requests[i];
      r.pending = r.pending.filter((m) => {
        const ts = tasks.get(m.key);
        const from = workers.get(m.from);
        if (!ts || ts.state !== 'memory' || !from || !workers.has(m.to)) return false;
        if (!ts.who.has(from.id)) return false;
        if (!ts.who.has(m.to)) return now < r.deadline;
        if (!feedsTaskOn(ts, from.id, tasks)) {
          free(ts, from);
          r.moved += 1;
          r.bytes += m.nbytes;
        }
        return false;
      });
      if (r.pending.length === 0) {
        done.push({ client: r.client, req: r.req, moved: r.moved, bytes: r.bytes });
        this.requests.splice(i--, 1);
      }
    }
    return done;
  }
}
