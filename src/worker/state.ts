import type { DepLocation, RemoteError } from '../protocol';
import type {
  Received,
  StoryState,
  Stored,
  WorkerAction,
  WorkerDep,
  WorkerEvent,
  WorkerTask,
  WorkerTransition,
} from './state-types';
import { WorkerStoryLog } from './story';

/** Keys asked of one holder in one get-data at most. */
export const FETCH_BATCH = 1000;
/**
 * How long a cancelled task may run on before its thread is terminated (ms): long enough for a
 * task about to finish to end on its own (a terminated thread loses its compiled functions and
 * its batch-mates' work), short enough that a spinning task frees its slot soon.
 */
export const CANCEL_GRACE_MS = 1000;

/**
 * The worker's decisions, kept pure like the scheduler core: events go in through `handle`,
 * actions come out. No socket, timer, thread or clock is touched here; time arrives in events.
 * `P` is a task's payload (function and arguments), `D` a stored value; both are opaque here.
 *
 * Inputs are fetched in batches: one get-data per holder for up to FETCH_BATCH keys, one
 * transfer per key at a time (a key in flight is never asked again); a key its holder did not
 * send is asked of the next holder, and when none has it every task waiting on it is reported
 * with missing-data and dropped here (the scheduler places it again).
 */
export class WorkerState<P, D> {
  readonly tasks = new Map<string, WorkerTask<P>>();
  readonly deps = new Map<string, WorkerDep>();
  /**
   * Values held here. The driver may pass a Map of its own that watches what is stored and
   * deleted (the memory manager's bookkeeping); decisions stay here.
   */
  readonly data: Map<string, Stored<D>>;
  /** Run id -> task key, for every run handed to the pool and not ended. */
  readonly runs = new Map<number, string>();
  /** Holder -> keys asked of it and not answered. */
  readonly flight = new Map<string, Set<string>>();
  private readonly toFetch = new Set<string>();
  private readonly log = new WorkerStoryLog();
  private out: WorkerAction<P, D>[] = [];
  private nextRun = 1;
  private seq = 0;
  private cause = '';
  private now = 0;

  constructor(data: Map<string, Stored<D>> = new Map()) {
    this.data = data;
  }

  /** The single entry point: apply events in order, return the actions to carry out. */
  handle(events: WorkerEvent<P, D> | readonly WorkerEvent<P, D>[]): WorkerAction<P, D>[] {
    const list: readonly WorkerEvent<P, D>[] = Array.isArray(events)
      ? events
      : [events as WorkerEvent<P, D>];
    this.out = [];
    for (const ev of list) {
      this.now = ev.now;
      this.cause = ev.stimulusId ? `${ev.type} ${ev.stimulusId}` : ev.type;
      this.apply(ev);
    }
    this.gather();
    const out = this.out;
    this.out = [];
    return out;
  }

  /** Why a key is where it is on this worker, oldest transition first. */
  story(key: string): WorkerTransition[] {
    return this.log.story(key);
  }

  private apply(ev: WorkerEvent<P, D>): void {
    switch (ev.type) {
      case 'compute':
        return this.compute(ev.key, ev.payload, ev.deps, ev.fresh);
      case 'cancel-compute':
        for (const key of ev.keys) this.cancel(key);
        return;
      case 'free-keys':
        for (const key of ev.keys) {
          if (this.data.delete(key)) this.record(key, 'memory', 'forgotten');
        }
        return;
      case 'acquire-replicas':
        for (const d of ev.deps) this.acquire(d);
        return;
      case 'put-data':
        // A key held here is never overwritten: a put cannot forge a result.
        if (this.data.has(ev.key)) return this.record(ev.key, 'memory', 'memory');
        this.data.set(ev.key, { value: ev.value, nbytes: ev.nbytes });
        this.record(ev.key, 'new', 'memory');
        return;
      case 'fetch-done':
        return this.fetched(ev.holder, ev.keys, ev.got);
      case 'fetch-failed':
        return this.fetched(ev.holder, ev.keys, []);
      case 'task-result':
        return this.ended(ev.run, { value: ev.value, nbytes: ev.nbytes }, null, ev.duration);
      case 'task-error':
        return this.ended(ev.run, null, ev.error, ev.duration);
      case 'task-part':
        return this.ended(ev.run, null, null, 0, true);
      case 'thread-died':
        return this.ended(ev.run, null, threadExited(ev.reason), 0);
      case 'run-dropped':
        return this.ended(ev.run, null, null, 0);
      case 'grace-over': {
        const t = this.taskOfRun(ev.run);
        if (t?.state !== 'cancelled') return;
        this.move(t, 'terminating');
        this.out.push({ type: 'terminate', key: t.key, run: t.run });
        return;
      }
    }
  }

  // ---------------------------------------------------------------- tasks

  private compute(key: string, payload: P, deps: DepLocation[], fresh = false): void {
    const t = this.tasks.get(key);
    if (t) {
      // The run of a task cancelled a moment ago goes on: its result is this compute's.
      if (t.state === 'cancelled' && !fresh) this.move(t, 'executing');
      else if (t.state === 'terminating' || t.state === 'cancelled') {
        t.next = { payload, deps };
        this.record(key, t.state, t.state);
      }
      return; // waiting or executing: a repeat of a compute already here
    }
    const stored = this.data.get(key);
    if (stored) {
      this.record(key, 'memory', 'memory');
      this.out.push({ type: 'task-finished', key, nbytes: stored.nbytes, duration: 0 });
      return;
    }
    const task: WorkerTask<P> = {
      key,
      state: 'waiting',
      payload,
      deps,
      waitingOn: new Set(),
      run: -1,
      next: null,
      seq: this.seq++,
    };
    this.tasks.set(key, task);
    this.record(key, 'new', 'waiting');
    this.execute(task);
  }

  /** Runs a task whose inputs are all here, else starts fetching those that are not. */
  private execute(t: WorkerTask<P>): void {
    for (const d of t.deps) if (!this.data.has(d.key)) this.need(t, d);
    if (t.waitingOn.size > 0) return;
    t.run = this.nextRun++;
    this.runs.set(t.run, t.key);
    this.move(t, 'executing');
    const deps: [string, D][] = t.deps.map((d) => [d.key, this.data.get(d.key)!.value]);
    this.out.push({ type: 'run', key: t.key, run: t.run, payload: t.payload, deps });
  }

  private need(t: WorkerTask<P>, d: DepLocation): void {
    t.waitingOn.add(d.key);
    this.depFor(d).waiters.add(t.key);
  }

  /**
   * Brings a key here for its own sake (the scheduler moves a retiring worker's data): it is
   * reported with add-keys once it arrives, like any fetched input.
   */
  private acquire(d: DepLocation): void {
    const stored = this.data.get(d.key);
    if (stored) this.out.push({ type: 'add-keys', keys: [d.key], nbytes: [stored.nbytes] });
    else this.depFor(d).replica = true;
  }

  /** The fetch of `d`, new or already under way, with `d`'s holders added as candidates. */
  private depFor(d: DepLocation): WorkerDep {
    let dep = this.deps.get(d.key);
    if (!dep) {
      dep = {
        key: d.key,
        state: 'fetch',
        holder: '',
        candidates: [],
        tried: [],
        waiters: new Set(),
        replica: false,
      };
      this.deps.set(d.key, dep);
      this.toFetch.add(d.key);
      this.record(d.key, 'new', 'fetch');
    }
    for (const h of d.who) {
      if (h && h !== dep.holder && !dep.candidates.includes(h) && !dep.tried.includes(h)) {
        dep.candidates.push(h);
      }
    }
    return dep;
  }

  private cancel(key: string): void {
    const t = this.tasks.get(key);
    if (!t) return;
    if (t.state === 'waiting') return this.forget(t);
    if (t.state === 'executing') {
      this.move(t, 'cancelled');
      this.out.push({ type: 'cancel-run', key, run: t.run, graceMs: CANCEL_GRACE_MS });
    } else if ((t.state === 'terminating' || t.state === 'cancelled') && t.next) {
      t.next = null;
      this.record(key, t.state, t.state);
    }
  }

  /** A run ended: with a value, an error, or neither (dropped before it started). */
  private ended(
    run: number,
    stored: Stored<D> | null,
    error: RemoteError | null,
    dt: number,
    part = false,
  ) {
    const t = this.taskOfRun(run);
    if (!t) return; // a run already accounted for
    this.runs.delete(run);
    this.tasks.delete(t.key);
    const next = t.next;
    const wanted = t.state === 'executing' || (next !== null && error === null && stored !== null);
    // A gang member's part went to gang rank 0, which reports the task: nothing is kept here.
    if (!wanted || part) {
      this.record(t.key, t.state, 'forgotten');
      if (next) this.compute(t.key, next.payload, next.deps);
      return;
    }
    if (stored) {
      this.data.set(t.key, stored);
      this.record(t.key, t.state, 'memory');
      this.out.push({ type: 'task-finished', key: t.key, nbytes: stored.nbytes, duration: dt });
    } else if (error) {
      this.record(t.key, t.state, 'forgotten');
      this.out.push({ type: 'task-erred', key: t.key, error, duration: dt });
    } else {
      // Dropped by the pool though still wanted: run it again.
      this.tasks.set(t.key, t);
      t.run = -1;
      this.execute(t);
    }
  }

  /** Drops a task that has not run, and the fetches only it was waiting for. */
  private forget(t: WorkerTask<P>): void {
    for (const k of t.waitingOn) {
      const dep = this.deps.get(k);
      if (!dep) continue;
      dep.waiters.delete(t.key);
      if (dep.waiters.size === 0 && dep.state === 'fetch' && !dep.replica) {
        this.deps.delete(k);
        this.toFetch.delete(k);
        this.record(k, 'fetch', 'forgotten');
      }
    }
    this.tasks.delete(t.key);
    if (t.run >= 0) this.runs.delete(t.run);
    this.record(t.key, t.state, 'forgotten');
  }

  private taskOfRun(run: number): WorkerTask<P> | undefined {
    const key = this.runs.get(run);
    return key === undefined ? undefined : this.tasks.get(key);
  }

  // ---------------------------------------------------------------- fetches

  /** Sends every input still to fetch to its next holder, FETCH_BATCH keys a request. */
  private gather(): void {
    if (this.toFetch.size === 0) return;
    const byHolder = new Map<string, string[]>();
    for (const key of Array.from(this.toFetch)) {
      this.toFetch.delete(key);
      const dep = this.deps.get(key);
      if (!dep || dep.state !== 'fetch') continue;
      const holder = dep.candidates.shift();
      if (holder === undefined) {
        this.missing(dep);
        continue;
      }
      dep.state = 'flight';
      dep.holder = holder;
      this.record(key, 'fetch', 'flight');
      let asked = this.flight.get(holder);
      if (!asked) this.flight.set(holder, (asked = new Set()));
      asked.add(key);
      const list = byHolder.get(holder);
      if (list) list.push(key);
      else byHolder.set(holder, [key]);
    }
    for (const [holder, keys] of byHolder) {
      for (let i = 0; i < keys.length; i += FETCH_BATCH) {
        this.out.push({ type: 'fetch', holder, keys: keys.slice(i, i + FETCH_BATCH) });
      }
    }
  }

  private fetched(holder: string, keys: string[], got: Received<D>[]): void {
    const asked = this.flight.get(holder);
    const arrived: WorkerDep[] = [];
    const added: string[] = [];
    const nbytes: number[] = [];
    for (const g of got) {
      const dep = this.deps.get(g.key);
      if (!dep || dep.state !== 'flight' || dep.holder !== holder) continue; // not asked of it
      asked?.delete(g.key);
      this.deps.delete(g.key);
      this.data.set(g.key, { value: g.value, nbytes: g.nbytes });
      this.record(g.key, 'flight', 'memory');
      arrived.push(dep);
      added.push(g.key);
      nbytes.push(g.nbytes);
    }
    if (added.length > 0) this.out.push({ type: 'add-keys', keys: added, nbytes });
    for (const key of keys) {
      const dep = this.deps.get(key);
      if (!dep || dep.state !== 'flight' || dep.holder !== holder) continue;
      asked?.delete(key);
      dep.tried.push(holder);
      dep.holder = '';
      dep.state = 'fetch';
      this.record(key, 'flight', 'fetch');
      if (dep.waiters.size > 0 || dep.replica) this.toFetch.add(key);
      else {
        this.deps.delete(key);
        this.record(key, 'fetch', 'forgotten');
      }
    }
    if (asked?.size === 0) this.flight.delete(holder);
    // Tasks run in the order their computes came, not in the order their inputs did.
    const ready: WorkerTask<P>[] = [];
    for (const dep of arrived) {
      for (const w of dep.waiters) {
        const t = this.tasks.get(w)!;
        t.waitingOn.delete(dep.key);
        if (t.waitingOn.size === 0) ready.push(t);
      }
    }
    ready.sort((a, b) => a.seq - b.seq);
    for (const t of ready) this.execute(t);
  }

  /** No holder had `dep`: every task waiting on it is reported, then dropped here. */
  private missing(dep: WorkerDep): void {
    this.deps.delete(dep.key);
    this.record(dep.key, 'fetch', 'missing');
    const from = dep.tried.length > 0 ? dep.tried : [''];
    for (const w of dep.waiters) {
      const t = this.tasks.get(w)!;
      for (const f of from) this.out.push({ type: 'missing-data', key: w, dep: dep.key, from: f });
      t.waitingOn.delete(dep.key);
      this.forget(t);
    }
  }

  // ---------------------------------------------------------------- story and checks

  private move(t: WorkerTask<P>, to: WorkerTask<P>['state']): void {
    this.record(t.key, t.state, to);
    t.state = to;
  }

  private record(key: string, from: StoryState, to: StoryState): void {
    this.log.record(key, from, to, this.cause, this.now);
  }

  /** Checks every invariant between handle() calls; throws on the first broken one. */
  validateState(): void {
    const fail = (msg: string): never => {
      throw new Error(`worker state invalid: ${msg}`);
    };
    for (const t of this.tasks.values()) {
      if (t.state === 'waiting') {
        if (t.waitingOn.size === 0) fail(`${t.key} waits on nothing`);
        if (t.run !== -1) fail(`${t.key} waits with run ${t.run}`);
        for (const k of t.waitingOn) {
          if (!this.deps.get(k)?.waiters.has(t.key)) fail(`${k} does not list waiter ${t.key}`);
          if (this.data.has(k)) fail(`${t.key} waits on ${k}, which is here`);
        }
      } else {
        if (this.runs.get(t.run) !== t.key) fail(`${t.key} (${t.state}) has no run ${t.run}`);
        if (t.waitingOn.size > 0) fail(`${t.key} (${t.state}) still waits on inputs`);
      }
      // A next compute waits for a run being stopped: terminated, or (a gang's) cancelled.
      if (t.next && t.state !== 'terminating' && t.state !== 'cancelled') {
        fail(`${t.key} (${t.state}) has a next compute`);
      }
    }
    for (const dep of this.deps.values()) {
      if (dep.state !== 'flight') fail(`${dep.key} left in ${dep.state} between events`);
      if (!this.flight.get(dep.holder)?.has(dep.key)) fail(`${dep.key} not asked of its holder`);
      if (this.data.has(dep.key)) fail(`${dep.key} fetched while here`);
      for (const w of dep.waiters) {
        const t = this.tasks.get(w);
        if (t?.state !== 'waiting' || !t.waitingOn.has(dep.key))
          fail(`${w} not waiting on ${dep.key}`);
      }
    }
    for (const [holder, keys] of this.flight) {
      if (keys.size === 0) fail(`empty flight set for ${holder}`);
      for (const k of keys)
        if (this.deps.get(k)?.holder !== holder) fail(`${k} stray at ${holder}`);
    }
    for (const [run, key] of this.runs) {
      if (this.tasks.get(key)?.run !== run) fail(`run ${run} names ${key}, which is not on it`);
    }
    if (this.toFetch.size > 0) fail('fetches left unsent');
  }
}

function threadExited(reason: string): RemoteError {
  return {
    name: 'ThreadExited',
    code: 'ERR_THREAD_EXITED',
    message: `the thread running this task died (${reason}): the task called process.exit(), threw outside its promise, or ran out of memory`,
  };
}
