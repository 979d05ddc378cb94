import type { RemoteError } from '../protocol';
import { IndexedHeap } from './heap';
import type { TaskState, WorkerState } from './types';
import { couldRun } from './unrunnable';
import { occupied } from './placement';

/**
 * Gang tasks (issue 21): a task submitted with `ranks: N` runs at once on N distinct workers that
 * are MPI ranks of one job (`info.mpi`), as one MPI program over a communicator of those ranks.
 * This module decides where gangs run and which wait; the core carries its decisions out. Pure:
 * it reads the core's worker map and writes only its own queue and `reserved`.
 *
 * - A member needs `info.mpi` of the gang's job, the task's restrictions met, a free thread (not
 *   a pipeline slot: the members run together), and no other gang: its members block in
 *   MPI_Comm_create_group, so two gangs sharing two workers could deadlock if each worker entered
 *   them in another order.
 * - All or nothing: a gang goes only where N members are free at once; none holds a slot waiting.
 * - No starvation: the first waiting gang that does not fit holds the N workers of a job that will
 *   free soonest (`reserved`, honoured by Placement.hasRoom); they take no new ordinary task, while
 *   the other workers go on with ordinary tasks and with lower gangs that fit without them.
 */

/** A worker that frees this late is paused by memory: held last, since it may stay so. */
const PAUSED_COST = 1e9;

/** The ready queue's order (ready-queue.ts): higher priority first, then first submitted. */
function runsBefore<P>(a: TaskState<P>, b: TaskState<P>): boolean {
  return a.priority !== b.priority ? a.priority > b.priority : a.seq < b.seq;
}

const rankOf = (w: WorkerState) => w.info.mpi!.rank;
const byRank = (a: WorkerState, b: WorkerState) => rankOf(a) - rankOf(b);

/** The workers a processing task holds slots on: a gang's members, else its one worker. */
export function membersOf<P>(ts: TaskState<P>): readonly string[] {
  return ts.gang ?? (ts.processingOn === null ? [] : [ts.processingOn]);
}

/** Whether `w` runs a gang now (a worker runs at most one). */
function runsGang<P>(w: WorkerState, tasks: ReadonlyMap<string, TaskState<P>>): boolean {
  for (const key of w.processing) if (tasks.get(key)?.gang) return true;
  return false;
}

/** Gangs to start now, with their members in gang order; workers no longer held for a gang. */
export interface GangPlan<P> {
  place: { ts: TaskState<P>; members: WorkerState[] }[];
  freed: string[];
}

export class Gangs<P> {
  /** Workers held for the first waiting gang that does not fit: no new ordinary task goes there. */
  readonly reserved = new Set<string>();
  /** Ready gangs that found no members (state 'queued'; never in the ordinary ReadyQueue). */
  private readonly queue = new IndexedHeap<TaskState<P>>(runsBefore);

  /**
   * @param allowed Placement.allowed: the task's `workers` and `resources` restrictions, met now.
   */
  constructor(
    private readonly workers: ReadonlyMap<string, WorkerState>,
    private readonly allowed: (w: WorkerState, ts: TaskState<P>) => boolean,
  ) {}

  /** Whether the core must plan after a batch: gangs wait, or workers are still held. */
  get busy(): boolean {
    return this.queue.size > 0 || this.reserved.size > 0;
  }

  enqueue(ts: TaskState<P>): void {
    this.queue.push(ts);
  }

  /** Takes a gang out of the queue; a no-op for one that is not there. */
  remove(ts: TaskState<P>): void {
    this.queue.remove(ts);
  }

  /**
   * Members for a gang on workers free now, when no other gang waits (one that does goes first,
   * or holds workers: the plan after the batch decides); null if it must wait.
   */
  fits(ts: TaskState<P>, tasks: ReadonlyMap<string, TaskState<P>>): WorkerState[] | null {
    if (this.queue.size > 0) return null;
    return this.pick(ts, this.freeNow(tasks), this.reserved, tasks);
  }

  /**
   * Why a gang can never run on the workers connected now: no MPI worker, or no job with N workers
   * its restrictions allow (busy ones count, they free in time; retiring ones take nothing new).
   * Null if it can once its members are free: being busy is never an error.
   */
  impossible(ts: TaskState<P>): RemoteError | null {
    const n = ts.ranks!;
    let ranks = 0;
    const jobs = new Map<string, { have: number; size: number; name: string }>();
    for (const w of this.workers.values()) {
      const m = w.info.mpi;
      if (!m) continue;
      ranks += 1;
      const j = jobs.get(m.job) ?? { have: 0, size: m.size, name: m.job };
      jobs.set(m.job, j);
      if (couldRun(w, ts)) j.have += 1;
    }
    const error = (code: string, message: string): RemoteError => ({
      name: 'GangUnrunnable',
      code,
      message,
      key: ts.key,
    });
    if (ranks === 0) {
      const connected = this.workers.size === 0 ? 'none' : `${this.workers.size}`;
      return error(
        'ERR_GANG_NO_MPI',
        `task ${ts.key} asks for ranks: ${n}, but none of this cluster's workers (${connected} connected) is an MPI rank of a job: gang tasks run on clusters started with initialize() or mpi-init (srun/mpirun), not on a LocalCluster, a job-queue cluster or workers started by hand; run it on such a cluster, or submit it without ranks`,
      );
    }
    let big = { have: -1, size: 0, name: '' };
    for (const j of jobs.values()) if (j.have > big.have) big = j;
    if (big.have >= n) return null;
    const restricted = ts.workers || ts.resources;
    const allowedBy = restricted ? ' that its workers/resources restrictions allow' : '';
    const fix =
      big.have === 0
        ? 'relax its restrictions'
        : `ask for at most ${big.have} ranks, or start the job with at least ${big.size + n - big.have} processes (srun -n, mpirun -np)`;
    return error(
      'ERR_GANG_TOO_LARGE',
      `task ${ts.key} asks for ranks: ${n}, but this cluster's largest MPI job has ${big.have} worker ranks${allowedBy} (job ${big.name}, of ${big.size} processes in all: the others are the scheduler, the client, or ranks that are gone or retiring); ${fix}`,
    );
  }

  /** Waiting gangs that can never run any more (a worker left), each with why. */
  unfit(): [TaskState<P>, RemoteError][] {
    const out: [TaskState<P>, RemoteError][] = [];
    for (const ts of this.queue.values()) {
      const why = this.impossible(ts);
      if (why) out.push([ts, why]);
    }
    return out;
  }

  /**
   * After a batch of events: the waiting gangs that fit now, best first, and the workers held for
   * the first that does not (it keeps them from ordinary tasks and from lower gangs). Lower gangs
   * still fit on free workers not held. Planned afresh each time: workers come and go.
   */
  plan(tasks: ReadonlyMap<string, TaskState<P>>): GangPlan<P> {
    const before = [...this.reserved];
    this.reserved.clear();
    const place: GangPlan<P>['place'] = [];
    if (this.queue.size > 0) {
      const free = this.freeNow(tasks);
      // Workers given a gang in this plan and, once the head is held for, those held for it.
      const skip = new Set<string>();
      let open = free.length;
      let held = false;
      const order = [...this.queue.values()].sort((a, b) => (runsBefore(a, b) ? -1 : 1));
      for (const ts of order) {
        if (held && open < ts.ranks!) continue;
        const members = this.pick(ts, free, skip, tasks);
        if (members) {
          place.push({ ts, members });
          for (const w of members) skip.add(w.id);
          open -= members.length;
        } else if (!held) {
          held = true;
          this.hold(ts, skip);
          for (const w of free) if (this.reserved.has(w.id) && !skip.has(w.id)) open -= 1;
          for (const id of this.reserved) skip.add(id);
        }
      }
    }
    const freed = before.filter((id) => !this.reserved.has(id) && this.workers.has(id));
    return { place, freed };
  }

  /** MPI workers that could join a gang now, restrictions aside. */
  private freeNow(tasks: ReadonlyMap<string, TaskState<P>>): WorkerState[] {
    const out: WorkerState[] = [];
    for (const w of this.workers.values()) {
      if (!w.info.mpi || w.retiring || w.memory.paused) continue;
      if (occupied(w) >= w.info.nthreads || runsGang(w, tasks)) continue;
      out.push(w);
    }
    return out;
  }

  /**
   * N members among `free` (but `skip`), all of one job: those holding most of the task's input
   * bytes, then the least loaded, then by rank; of the jobs that have N, the one whose members
   * hold most, then are least loaded. Returned in rank order (gang rank i = members[i]).
   */
  private pick(
    ts: TaskState<P>,
    free: readonly WorkerState[],
    skip: ReadonlySet<string>,
    tasks: ReadonlyMap<string, TaskState<P>>,
  ): WorkerState[] | null {
    const n = ts.ranks!;
    type Candidate = { w: WorkerState; bytes: number; load: number };
    const byJob = new Map<string, Candidate[]>();
    for (const w of free) {
      if (skip.has(w.id) || !this.allowed(w, ts)) continue;
      let bytes = 0;
      for (const d of ts.deps) {
        const dep = tasks.get(d);
        if (dep?.who.has(w.id)) bytes += dep.nbytes + 1;
      }
      const list = byJob.get(w.info.mpi!.job) ?? [];
      list.push({ w, bytes, load: occupied(w) / w.info.nthreads });
      byJob.set(w.info.mpi!.job, list);
    }
    let best: Candidate[] | null = null;
    let bestBytes = -1;
    let bestLoad = Infinity;
    for (const list of byJob.values()) {
      if (list.length < n) continue;
      list.sort((a, b) => b.bytes - a.bytes || a.load - b.load || byRank(a.w, b.w));
      const chosen = list.slice(0, n);
      const bytes = chosen.reduce((s, c) => s + c.bytes, 0);
      const load = chosen.reduce((s, c) => s + c.load, 0);
      if (bytes > bestBytes || (bytes === bestBytes && load < bestLoad)) {
        best = chosen;
        bestBytes = bytes;
        bestLoad = load;
      }
    }
    return best ? best.map((c) => c.w).sort(byRank) : null;
  }

  /**
   * Holds for `ts` the N workers of one job that will free soonest: fewest tasks processing (one
   * more for those just given a gang, `taken`), ties by rank; of the jobs, the one whose last member frees
   * soonest. Busy workers count: they free in time, and held ones take nothing new meanwhile.
   */
  private hold(ts: TaskState<P>, taken: ReadonlySet<string>): void {
    const n = ts.ranks!;
    const cost = (w: WorkerState) =>
      occupied(w) + (taken.has(w.id) ? 1 : 0) + (w.memory.paused ? PAUSED_COST : 0);
    const byJob = new Map<string, WorkerState[]>();
    for (const w of this.workers.values()) {
      if (!w.info.mpi || !couldRun(w, ts)) continue;
      const list = byJob.get(w.info.mpi.job) ?? [];
      list.push(w);
      byJob.set(w.info.mpi.job, list);
    }
    let best: WorkerState[] | null = null;
    let bestLast = Infinity;
    let bestSum = Infinity;
    for (const list of byJob.values()) {
      if (list.length < n) continue;
      list.sort((a, b) => cost(a) - cost(b) || byRank(a, b));
      const chosen = list.slice(0, n);
      const last = cost(chosen[n - 1]);
      const sum = chosen.reduce((s, w) => s + cost(w), 0);
      if (last < bestLast || (last === bestLast && sum < bestSum)) {
        best = chosen;
        bestLast = last;
        bestSum = sum;
      }
    }
    for (const w of best ?? []) this.reserved.add(w.id);
  }
}
