import { InvariantError } from '../errors';
import { keyPrefix } from '../util/key-prefix';
import type { RemoteError, WorkerInfoWire } from '../protocol';
import { Gangs, membersOf } from './gangs';
import { applyReport, newMemory } from './memory';
import { Placement } from './placement';
import { Rebalances, planRebalance } from './rebalance';
import { ReadyQueue } from './ready-queue';
import { NONE, grow, shrink, soleSet, unwant, want } from './sets';
import { StoryLog } from './story';
import { StartOrder } from './suspects';
import { UnrunnableWatch } from './unrunnable';
import { validateState } from './validate';
import {
  DEFAULT_SCHEDULER_CONFIG,
  LEGAL_TRANSITIONS,
  type DepWhere,
  type SchedulerAction,
  type SchedulerConfig,
  type SchedulerEvent,
  type SubmittedTask,
  type TaskState,
  type TaskStateName,
  type Transition,
  type WorkerState,
} from './types';

/**
 * The scheduler's decisions, kept pure: events go in through `handle`, actions come out. No
 * socket, timer or clock is touched here; time arrives inside events.
 *
 * Nothing here recurses along the task graph: walks over dependents or dependencies use explicit
 * stacks, and releases go through one worklist, so the call stack stays the same depth for a
 * 100,000-long chain as for one task.
 */
/** Task kinds counted apart at once (the dashboard's rows); more share OTHER_KIND. */
const MAX_KINDS = 1000;
const OTHER_KIND = 'other';

export class SchedulerCore<P> {
  readonly tasks = new Map<string, TaskState<P>>();
  readonly workers = new Map<string, WorkerState>();
  readonly clients = new Map<string, { lastSeen: number; wants: Set<string> }>();
  /** Tasks by kind (key prefix) and state, kept as they move: the dashboard's progress. */
  readonly byPrefix = new Map<string, Record<string, number>>();
  /** Running totals since start, for metrics. */
  readonly totals = { forgotten: 0, computeSeconds: 0 };
  private readonly config: SchedulerConfig;
  private readonly placement: Placement<P>;
  /** Ready tasks waiting for a free slot, restricted or not, in priority-then-FIFO order. */
  private readonly ready = new ReadyQueue<P>();
  private seq = 0;
  private out: SchedulerAction<P>[] = [];
  private cause = '';
  private readonly log = new StoryLog();
  /** Tasks to check for release (maybeRelease's worklist, at most a few entries per task). */
  private readonly releasing: TaskState<P>[] = [];
  private draining = false;
  private lastTick = -1;
  /** Stimuli handled so far: each event's number in the stories. */
  private stimuli = 0;
  /** Workers being retired (retire-workers), checked after every batch of events. */
  private readonly retiring = new Set<string>();
  /** Each client's shared one-client wanters set (sets.ts want()). */
  private readonly soleSets = new Map<string, ReadonlySet<string>>();
  private readonly sole = (client: string): ReadonlySet<string> => {
    let s = this.soleSets.get(client);
    if (!s) this.soleSets.set(client, (s = soleSet(client)));
    return s;
  };
  /** Restricted tasks no connected worker can run: warned of on ticks. */
  private readonly unrunnable: UnrunnableWatch<P>;
  /** How tasks enter their workers' pools: which ones a dead worker was running. */
  private readonly starts = new StartOrder<P>();
  /** Clients' rebalances under way, checked after every batch of events. */
  private readonly rebalances = new Rebalances();
  /** Gang tasks (`ranks`): where they run, which wait, which workers are held for them. */
  private readonly gangs: Gangs<P>;

  constructor(config: Partial<SchedulerConfig> = {}) {
    // An option given as undefined (an unset CLI flag) keeps its default.
    const given = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
    this.config = { ...DEFAULT_SCHEDULER_CONFIG, ...given };
    this.gangs = new Gangs(this.workers, (w, ts) => this.placement.allowed(w, ts));
    this.placement = new Placement(this.workers, this.config.pipelineBelow, this.gangs.reserved);
    this.unrunnable = new UnrunnableWatch(this.workers, this.config.unrunnableAfter);
  }

  /** The single entry point: apply events in order, return the actions to carry out. */
  handle(events: SchedulerEvent<P> | readonly SchedulerEvent<P>[]): SchedulerAction<P>[] {
    this.out = [];
    const list: readonly SchedulerEvent<P>[] = Array.isArray(events)
      ? events
      : [events as SchedulerEvent<P>];
    for (let i = 0; i < list.length; i++) {
      const ev = list[i];
      const from =
        'worker' in ev && typeof ev.worker === 'string'
          ? ev.worker
          : 'client' in ev
            ? ev.client
            : '';
      this.cause = `${ev.type}#${++this.stimuli}${from ? ` from ${from}` : ''}`;
      this.apply(ev);
    }
    if (this.gangs.busy) this.placeGangs();
    for (const id of this.retiring) this.progressRetirement(id);
    if (this.rebalances.busy) this.progressRebalances();
    const out = this.out;
    this.out = [];
    return out;
  }

  private apply(ev: SchedulerEvent<P>): void {
    // The scheduler's clock starts with the first event that tells the time.
    if (this.lastTick < 0 && 'now' in ev) this.lastTick = ev.now;
    switch (ev.type) {
      case 'client-join':
        if (!this.clients.has(ev.client)) {
          this.clients.set(ev.client, { lastSeen: ev.now, wants: new Set() });
        }
        return;
      case 'client-seen': {
        const c = this.clients.get(ev.client);
        if (c) c.lastSeen = ev.now;
        return;
      }
      case 'client-leave':
        return this.removeClient(ev.client, ev.reason);
      case 'submit':
        for (const t of ev.tasks) this.submit(ev.client, t);
        return;
      case 'release':
        for (const key of ev.keys) this.release(ev.client, key);
        return;
      case 'cancel':
        for (const key of ev.keys) this.cancel(ev.client, key);
        return;
      case 'scattered':
        return this.scattered(ev.client, ev.keys, ev.workers, ev.nbytes);
      case 'worker-join':
        return this.addWorker(ev.worker, ev.now);
      case 'worker-leave':
        return this.removeWorker(ev.worker, ev.reason);
      case 'worker-seen': {
        const w = this.workers.get(ev.worker);
        if (w) w.lastSeen = ev.now;
        return;
      }
      case 'worker-memory': {
        const w = this.workers.get(ev.worker);
        if (!w) return;
        applyReport(w, ev);
        // Unpaused, or below its target again: the queue's tasks may go there now.
        return this.fill(w.id);
      }
      case 'task-finished':
        return this.finished(ev.worker, ev.key, ev.nbytes, ev.duration, ev.inline);
      case 'task-erred':
        return this.erred(ev.worker, ev.key, ev.error, ev.duration);
      case 'add-keys':
        return this.addKeys(ev.worker, ev.keys, ev.nbytes);
      case 'missing-data':
        return this.missingData(ev.worker, ev.key, ev.dep, ev.from);
      case 'task-seceded':
      case 'task-rejoined':
        return this.secede(ev.worker, ev.key, ev.type === 'task-seceded');
      case 'retire-workers':
        this.unrunnable.workersShrank();
        for (const id of ev.workers) {
          const w = this.workers.get(id);
          if (w && !w.retiring) {
            w.retiring = true;
            this.retiring.add(id);
          }
        }
        return;
      case 'rebalance':
        return this.rebalance(ev.client, ev.req, ev.keys, ev.now);
      case 'tick':
        return this.tick(ev.now);
    }
  }

  // ---------------------------------------------------------------- clients

  private submit(client: string, t: SubmittedTask<P>): void {
    const c = this.clients.get(client);
    if (!c) return;
    const existing = this.tasks.get(t.key);
    if (existing && this.conflicts(existing, t)) {
      this.out.push({
        type: 'key-erred',
        client,
        key: t.key,
        error: {
          name: 'KeyConflict',
          code: 'ERR_KEY_CONFLICT',
          message: `key ${t.key} is already taken by a task with another function, arguments or dependencies; choose another key, or release the first task's futures before reusing its key`,
        },
      });
      return;
    }
    c.wants.add(t.key);
    if (existing) {
      want(existing, client, this.sole);
      if (existing.payload === null && existing.state === 'released') existing.payload = t.payload;
      if (existing.state === 'memory') this.emitDone(existing, [client]);
      else if (existing.state === 'erred') this.emitErred(existing, [client]);
      else if (existing.state === 'released') this.ensureComputing(existing);
      return;
    }
    const ts = this.newTask(t.key, t.payload, t.priority);
    ts.retries = t.retries;
    if (t.fingerprint !== undefined) ts.fingerprint = t.fingerprint;
    if (t.workers && t.workers.length > 0) ts.workers = t.workers;
    if (t.resources && Object.keys(t.resources).length > 0) ts.resources = t.resources;
    if (t.ranks !== undefined && t.ranks >= 1) ts.ranks = t.ranks;
    want(ts, client, this.sole);
    for (const depKey of t.deps) {
      // A new task can only close a cycle through itself: every dependency exists before it.
      const dep = depKey === t.key ? undefined : this.tasks.get(depKey);
      if (!dep) {
        ts.error = {
          name: depKey === t.key ? 'CyclicDependency' : 'MissingDependency',
          code: 'ERR_TASK_FAILED',
          message:
            depKey === t.key
              ? `task ${t.key} depends on itself (an explicit key reused for a task that takes its own future); it can never run`
              : `task ${t.key} depends on ${depKey}, which the scheduler no longer holds (was its future released?)`,
        };
        this.transition(ts, 'erred');
        this.emitErred(ts, ts.wantedBy);
        return;
      }
      grow(ts, 'deps').add(depKey);
      grow(dep, 'dependents').add(t.key);
    }
    for (const depKey of ts.deps) {
      const dep = this.tasks.get(depKey)!;
      if (dep.state === 'erred') return this.fail(ts, dep.error!);
    }
    this.ensureComputing(ts);
  }

  /** An explicit key submitted again for other work (by this client or another). */
  private conflicts(ts: TaskState<P>, t: SubmittedTask<P>): boolean {
    if (t.fingerprint !== undefined && ts.fingerprint !== undefined) {
      return t.fingerprint !== ts.fingerprint;
    }
    if (ts.payload === null || t.deps.length !== ts.deps.size) return ts.payload !== null;
    return !t.deps.every((d) => ts.deps.has(d));
  }

  private release(client: string, key: string): void {
    this.clients.get(client)?.wants.delete(key);
    const ts = this.tasks.get(key);
    if (!ts) return;
    unwant(ts, client);
    this.maybeRelease(ts);
  }

  private removeClient(client: string, reason: string): void {
    const c = this.clients.get(client);
    if (!c) return;
    this.clients.delete(client);
    for (const key of c.wants) this.release(client, key);
    this.soleSets.delete(client);
    this.out.push({ type: 'client-removed', client, reason });
  }

  /**
   * Cancels, for this client, a task and every dependent not yet in memory: the client's futures
   * say cancelled and its wants are dropped. Work another client still wants goes on (it keeps
   * what it needs through its own wants and waiters); the rest is released.
   */
  private cancel(client: string, key: string): void {
    const root = this.tasks.get(key);
    if (!root || root.state === 'memory') return;
    const seen = new Set<TaskState<P>>([root]);
    const order: TaskState<P>[] = [];
    const stack = [root];
    while (stack.length > 0) {
      const ts = stack.pop()!;
      order.push(ts);
      for (const d of ts.dependents) {
        const dt = this.tasks.get(d)!;
        if (dt.state !== 'memory' && !seen.has(dt)) {
          seen.add(dt);
          stack.push(dt);
        }
      }
    }
    // Dependents first, so each release finds its waiters already gone.
    for (let i = order.length - 1; i >= 0; i--) {
      const ts = order[i];
      if (this.tasks.get(ts.key) !== ts) continue;
      if (unwant(ts, client)) {
        this.out.push({ type: 'key-cancelled', client, key: ts.key });
        this.clients.get(client)?.wants.delete(ts.key);
      }
      this.maybeRelease(ts);
    }
  }

  private scattered(client: string, keys: string[], workers: string[], nbytes: number[]): void {
    const c = this.clients.get(client);
    if (!c) return;
    keys.forEach((key, i) => {
      const holders = workers.filter((w) => this.workers.has(w));
      let ts = this.tasks.get(key);
      if (ts && (ts.payload !== null || ts.state !== 'memory')) {
        // Data under a key a task computes (or will): refused, and the copies are dropped.
        this.out.push({
          type: 'key-erred',
          client,
          key,
          error: {
            name: 'KeyConflict',
            code: 'ERR_KEY_CONFLICT',
            message: `cannot scatter onto key ${key}: it names a task (${ts.state}); scatter under another key`,
          },
        });
        for (const w of holders) this.out.push({ type: 'free-keys', worker: w, keys: [key] });
        return;
      }
      if (!ts) ts = this.newTask(key, null, 0);
      c.wants.add(key);
      want(ts, client, this.sole);
      if (holders.length === 0) {
        this.fail(ts, {
          name: 'DataLost',
          code: 'ERR_WORKER_LOST',
          message: `scattered data ${key} was lost: its worker left before the scheduler heard of it`,
        });
        return;
      }
      ts.nbytes = nbytes[i] ?? 0;
      for (const w of holders) this.addReplica(ts, w);
      if (ts.state !== 'memory') this.toMemory(ts);
    });
  }

  // ---------------------------------------------------------------- workers

  private addWorker(info: WorkerInfoWire, now: number): void {
    if (this.workers.has(info.id)) this.removeWorker(info.id, 'registered again');
    this.workers.set(info.id, {
      id: info.id,
      info,
      processing: new Set(),
      seceded: new Set(),
      has: new Set(),
      nbytes: 0,
      lastSeen: now,
      used: {},
      retiring: false,
      moving: new Set(),
      memory: newMemory(),
    });
    this.out.push({ type: 'n-workers', n: this.workers.size });
    this.fill(info.id);
  }

  private removeWorker(id: string, reason: string): void {
    const w = this.workers.get(id);
    if (!w) return;
    this.workers.delete(id);
    this.retiring.delete(id);
    this.unrunnable.workersShrank();
    // Keys asked of this worker for a retiring one are asked again elsewhere.
    for (const rid of this.retiring) this.workers.get(rid)!.moving.clear();
    this.out.push({ type: 'worker-removed', worker: id, reason });
    this.out.push({ type: 'n-workers', n: this.workers.size });
    const rerun: TaskState<P>[] = [];
    const killed: TaskState<P>[] = [];
    // Only what it was running is suspected; what waited in its queue goes back unmarked.
    const running = this.starts.runningOn(w, this.tasks, this.placement.perThread());
    for (const ts of running) ts.suspicious += 1;
    for (const key of w.processing) {
      const ts = this.tasks.get(key);
      if (!ts) continue;
      // A gang's other members are told to stop: it runs again whole.
      this.unassign(ts, true);
      this.transition(ts, 'released');
      (ts.suspicious >= this.config.allowedFailures ? killed : rerun).push(ts);
    }
    const lost: TaskState<P>[] = [];
    for (const key of w.has) {
      const ts = this.tasks.get(key);
      if (!ts) continue;
      shrink(ts.who, id);
      if (ts.who.size === 0 && ts.state === 'memory') lost.push(ts);
    }
    for (const ts of lost) this.lose(ts);
    for (const [ts, why] of this.gangs.unfit()) this.fail(ts, why);
    for (const ts of rerun) this.ensureComputing(ts);
    for (const ts of killed) {
      this.fail(ts, {
        name: 'KilledWorker',
        code: 'ERR_KILLED_WORKER',
        message: `task ${ts.key} was running on a worker that died ${ts.suspicious} times (last: ${w.info.name} on ${w.info.host}: ${reason}); it may be crashing its workers`,
        worker: w.info.name,
        key: ts.key,
      });
    }
    for (const other of this.workers.keys()) this.fill(other);
  }

  /**
   * A retiring worker leaves once it runs nothing and every key it holds has a holder that stays:
   * each key held only by retiring workers is asked of the stayer holding the fewest bytes. With
   * no worker staying, the data leaves with it (and is recomputed if a new worker comes).
   */
  private progressRetirement(id: string): void {
    const w = this.workers.get(id);
    if (!w) {
      this.retiring.delete(id);
      return;
    }
    if (w.processing.size > 0) return;
    const stayers: WorkerState[] = [];
    for (const x of this.workers.values()) if (!x.retiring) stayers.push(x);
    const planned = new Map<WorkerState, number>(stayers.map((x) => [x, x.nbytes]));
    const asks = new Map<WorkerState, DepWhere[]>();
    let unsafe = 0;
    for (const key of w.has) {
      const ts = this.tasks.get(key);
      if (!ts || stayers.length === 0) continue;
      let kept = false;
      for (const h of ts.who) if (!this.workers.get(h)!.retiring) kept = true;
      if (kept) continue;
      unsafe += 1;
      if (w.moving.has(key)) continue;
      w.moving.add(key);
      let target = stayers[0];
      for (const x of stayers) if (planned.get(x)! < planned.get(target)!) target = x;
      planned.set(target, planned.get(target)! + ts.nbytes);
      const list = asks.get(target) ?? [];
      list.push({ key, who: this.addresses(ts) });
      asks.set(target, list);
    }
    for (const [target, deps] of asks) {
      this.out.push({ type: 'acquire-replicas', worker: target.id, deps });
    }
    if (unsafe === 0) this.removeWorker(id, 'retired');
  }

  /** Plans a client's rebalance and asks the receivers for their copies (rebalance.ts). */
  private rebalance(client: string, req: number, keys: string[] | null, now: number): void {
    const moves = planRebalance(this.workers, this.tasks, keys ? new Set(keys) : null);
    const asks = new Map<string, DepWhere[]>();
    for (const m of moves) {
      const list = asks.get(m.to) ?? [];
      list.push({ key: m.key, who: this.addresses(this.tasks.get(m.key)!) });
      asks.set(m.to, list);
    }
    for (const [worker, deps] of asks) this.out.push({ type: 'acquire-replicas', worker, deps });
    this.rebalances.start(client, req, moves, now);
  }

  /** Frees the senders' copies that arrived elsewhere; reports the rebalances now over. */
  private progressRebalances(): void {
    const free = (ts: TaskState<P>, w: WorkerState) => {
      shrink(ts.who, w.id);
      w.has.delete(ts.key);
      w.nbytes -= ts.nbytes;
      this.out.push({ type: 'free-keys', worker: w.id, keys: [ts.key] });
    };
    for (const d of this.rebalances.progress(this.workers, this.tasks, this.lastTick, free)) {
      this.out.push({ type: 'rebalanced', ...d });
    }
  }

  /** A key whose every copy is gone: recompute it if anyone needs it. */
  private lose(ts: TaskState<P>): void {
    this.transition(ts, 'released');
    ts.inline = null;
    for (const d of ts.waiters) {
      const dep = this.tasks.get(d);
      if (dep && dep.state === 'processing') this.pullBack(dep);
      else if (dep && (dep.state === 'queued' || dep.state === 'waiting')) {
        grow(dep, 'waitingOn').add(ts.key);
        if (dep.state === 'queued') this.transition(dep, 'waiting');
      }
    }
    if (ts.wantedBy.size === 0 && ts.waiters.size === 0) return this.maybeRelease(ts);
    for (const client of ts.wantedBy) this.out.push({ type: 'key-lost', client, key: ts.key });
    this.ensureComputing(ts);
  }

  /** Takes a processing task back from its worker and puts it through placement again. */
  private pullBack(ts: TaskState<P>): void {
    const members = this.unassign(ts, true);
    this.transition(ts, 'released');
    this.ensureComputing(ts);
    for (const wid of members) this.fill(wid);
  }

  private finished(
    wid: string,
    key: string,
    nbytes: number,
    duration: number,
    inline: Buffer[] | null,
  ): void {
    const ts = this.tasks.get(key);
    const w = this.workers.get(wid);
    if (!w) return;
    if (!ts || ts.processingOn !== wid) {
      // A gang's result is its leader's (gang rank 0); the others' parts end with it.
      if (ts?.gang?.includes(wid)) return;
      // A result nobody waits for here (cancelled, or recomputed elsewhere meanwhile).
      if (ts && ts.state === 'memory') this.addReplica(ts, wid);
      else this.out.push({ type: 'free-keys', worker: wid, keys: [key] });
      return;
    }
    this.placement.observe(duration);
    if (duration > 0) this.totals.computeSeconds += duration;
    const members = this.unassign(ts, false);
    ts.nbytes = nbytes;
    ts.inline = inline;
    this.addReplica(ts, wid);
    this.toMemory(ts);
    for (const m of members) this.fill(m);
  }

  private erred(wid: string, key: string, error: RemoteError, duration: number): void {
    const ts = this.tasks.get(key);
    const w = this.workers.get(wid);
    if (!ts || !w || !membersOf(ts).includes(wid)) return;
    // A member that lost its gang to another's failure: that one reports the cause (or dies), and
    // this report may be a previous attempt's, come after the gang was placed again.
    if (ts.gang && error.code === 'ERR_GANG_ABANDONED') return;
    this.placement.observe(duration);
    if (duration > 0) this.totals.computeSeconds += duration;
    const members = this.unassign(ts, true, wid);
    if (error.code === 'ERR_THREAD_EXITED') {
      // The task killed its thread: counted like a worker it killed, without using its retries.
      ts.suspicious += 1;
      this.transition(ts, 'released');
      if (ts.suspicious < this.config.allowedFailures) this.ensureComputing(ts);
      else {
        this.fail(ts, {
          name: 'KilledWorker',
          code: 'ERR_KILLED_WORKER',
          message: `task ${key} killed the thread running it ${ts.suspicious} times (last on ${w.info.name}: ${error.message})`,
          worker: w.info.name,
          key,
        });
      }
    } else if (ts.retries > 0) {
      ts.retries -= 1;
      this.transition(ts, 'released');
      this.ensureComputing(ts);
    } else {
      this.transition(ts, 'released');
      this.fail(ts, { ...error, worker: error.worker ?? w.info.name, key });
    }
    for (const m of members) this.fill(m);
  }

  private addKeys(wid: string, keys: string[], nbytes: number[]): void {
    if (!this.workers.has(wid)) return;
    const unknown: string[] = [];
    keys.forEach((key, i) => {
      const ts = this.tasks.get(key);
      if (ts && ts.state === 'memory') {
        if (!ts.nbytes) ts.nbytes = nbytes[i] ?? 0;
        if (ts.who.has(wid)) return;
        this.addReplica(ts, wid);
        this.starts.arrived(ts, wid, this.tasks);
      } else unknown.push(key);
    });
    if (unknown.length > 0) this.out.push({ type: 'free-keys', worker: wid, keys: unknown });
  }

  private missingData(wid: string, key: string, depKey: string, from: string): void {
    const dep = this.tasks.get(depKey);
    if (dep) {
      for (const holder of Array.from(dep.who)) {
        const hw = this.workers.get(holder);
        if (hw && hw.info.address === from) {
          shrink(dep.who, holder);
          hw.has.delete(depKey);
        }
      }
      if (dep.who.size === 0 && dep.state === 'memory') this.lose(dep);
    }
    const ts = this.tasks.get(key);
    if (ts && ts.state === 'processing' && membersOf(ts).includes(wid)) this.pullBack(ts);
  }

  /**
   * A task running on `wid` waits on futures of its own client (seceded), or goes on (rejoined:
   * it runs at once, over the worker's slots for a while, as Dask's rejoin may). Only an ordinary
   * task processing there counts; a late report of an earlier run is ignored. Nothing else of the
   * task's state changes: unassign() forgets the mark when it stops processing there.
   */
  private secede(wid: string, key: string, seceded: boolean): void {
    const w = this.workers.get(wid);
    const ts = this.tasks.get(key);
    if (!w || !ts || ts.state !== 'processing' || ts.processingOn !== wid || ts.gang) return;
    if (!seceded) {
      w.seceded.delete(key);
      return;
    }
    w.seceded.add(key);
    this.fill(wid);
  }

  private tick(now: number): void {
    // Time the scheduler itself could not listen (a long step, a stalled process) is no one
    // else's silence: a tick that comes late forgives the whole gap.
    const gap = this.lastTick < 0 ? 0 : now - this.lastTick;
    this.lastTick = now;
    if (gap > this.config.stallAfter) {
      for (const w of this.workers.values()) w.lastSeen += gap;
      for (const c of this.clients.values()) c.lastSeen += gap;
    }
    for (const w of Array.from(this.workers.values())) {
      if (now - w.lastSeen > this.config.workerTtl) {
        this.removeWorker(w.id, `no heartbeat for ${Math.round((now - w.lastSeen) / 1000)} s`);
      }
    }
    for (const [id, c] of Array.from(this.clients)) {
      if (now - c.lastSeen > this.config.clientTtl) this.removeClient(id, 'no heartbeat');
    }
    for (const n of this.unrunnable.check(this.ready.restricted(), now)) {
      this.out.push({ type: 'unrunnable', ...n });
    }
  }

  // ---------------------------------------------------------------- transitions

  private newTask(key: string, payload: P | null, priority: number): TaskState<P> {
    const ts: TaskState<P> = {
      key,
      state: 'released',
      payload,
      deps: NONE,
      dependents: NONE,
      waitingOn: NONE,
      waiters: NONE,
      wantedBy: NONE,
      who: NONE,
      processingOn: null,
      priority,
      seq: this.seq++,
      retries: 0,
      suspicious: 0,
      nbytes: 0,
      error: null,
      inline: null,
      heapIndex: -1,
      late: 0,
      tally: this.tallyOf(key),
    };
    ts.tally.released = (ts.tally.released ?? 0) + 1;
    this.tasks.set(key, ts);
    this.record(key, 'new', 'released');
    return ts;
  }

  /** Makes sure a released task is on its way to memory; its missing deps too. */
  private ensureComputing(root: TaskState<P>): void {
    const stack = [root];
    while (stack.length > 0) {
      const ts = stack.pop()!;
      if (ts.state !== 'released') continue;
      if (ts.payload === null) {
        this.fail(ts, {
          name: 'DataLost',
          code: 'ERR_WORKER_LOST',
          message: `data ${ts.key} was scattered to workers that are all gone; it has no lineage to recompute it from`,
        });
        continue;
      }
      ts.waitingOn = NONE;
      let erred: TaskState<P> | null = null;
      for (const depKey of ts.deps) {
        const dep = this.tasks.get(depKey)!;
        grow(dep, 'waiters').add(ts.key);
        if (dep.state !== 'memory') grow(ts, 'waitingOn').add(depKey);
        if (dep.state === 'erred') erred ??= dep;
      }
      this.transition(ts, 'waiting');
      if (erred) {
        this.fail(ts, erred.error!);
        continue;
      }
      for (const depKey of ts.deps) {
        const dep = this.tasks.get(depKey)!;
        if (dep.state === 'released') stack.push(dep);
      }
      if (ts.waitingOn.size === 0) this.place(ts);
    }
  }

  private place(ts: TaskState<P>): void {
    if (ts.ranks) return this.placeGang(ts);
    const wid = this.placement.choose(ts, this.tasks);
    if (wid === null) {
      this.transition(ts, 'queued');
      this.ready.push(ts);
      const n = ts.signature === undefined ? null : this.unrunnable.queued(ts);
      if (n) this.out.push({ type: 'unrunnable', ...n });
      return;
    }
    this.assign(ts, wid);
  }

  private assign(ts: TaskState<P>, wid: string): void {
    const w = this.workers.get(wid)!;
    w.processing.add(ts.key);
    this.placement.reserve(w, ts);
    ts.processingOn = wid;
    this.transition(ts, 'processing');
    const deps = this.depsOf(ts);
    this.starts.sent(ts, w, this.tasks);
    this.out.push({ type: 'compute', worker: wid, key: ts.key, payload: ts.payload!, deps });
  }

  private depsOf(ts: TaskState<P>): DepWhere[] {
    const deps: DepWhere[] = [];
    for (const k of ts.deps) deps.push({ key: k, who: this.addresses(this.tasks.get(k)!) });
    return deps;
  }

  /** A ready gang task (gangs.ts): errs if it can never run here, starts if it fits, else waits. */
  private placeGang(ts: TaskState<P>): void {
    const why = this.gangs.impossible(ts);
    if (why) return this.fail(ts, why);
    const members = this.gangs.fits(ts, this.tasks);
    if (members) return this.assignGang(ts, members);
    this.transition(ts, 'queued');
    this.gangs.enqueue(ts);
  }

  /** After a batch: starts the waiting gangs that fit; workers no longer held take tasks again. */
  private placeGangs(): void {
    const { place, freed } = this.gangs.plan(this.tasks);
    for (const { ts, members } of place) this.assignGang(ts, members);
    for (const wid of freed) this.fill(wid);
  }

  /** One compute per member, alike but for its place in the gang; each member holds a slot. */
  private assignGang(ts: TaskState<P>, members: WorkerState[]): void {
    ts.gang = members.map((w) => w.id);
    ts.processingOn = ts.gang[0];
    // Each member was given it on a free thread: it runs at once, so a member's death suspects it.
    ts.late = 0;
    this.transition(ts, 'processing');
    const deps = this.depsOf(ts);
    const ranks = members.map((w) => w.info.mpi!.rank);
    members.forEach((w, index) => {
      w.processing.add(ts.key);
      this.placement.reserve(w, ts);
      const { key, payload } = ts;
      this.out.push({
        type: 'compute',
        worker: w.id,
        key,
        payload: payload!,
        deps,
        gang: { ranks, index },
      });
    });
  }

  /**
   * Takes a processing task off every worker it holds a slot on (a gang's members, gangs.ts),
   * freeing slots and resources, with cancel-compute to each still connected but `except` (which
   * ended its part itself). Returns the members, to fill.
   */
  private unassign(ts: TaskState<P>, cancel: boolean, except = ''): readonly string[] {
    const members = membersOf(ts);
    for (const wid of members) {
      const w = this.workers.get(wid);
      if (!w) continue;
      w.processing.delete(ts.key);
      w.seceded.delete(ts.key);
      this.placement.unreserve(w, ts);
      if (cancel && wid !== except) {
        this.out.push({ type: 'cancel-compute', worker: wid, keys: [ts.key] });
      }
    }
    ts.processingOn = null;
    delete ts.gang;
    return members;
  }

  /** Gives queued tasks to a worker while it has free slots, best first. */
  private fill(wid: string): void {
    const w = this.workers.get(wid);
    if (!w) return;
    while (this.placement.hasRoom(w)) {
      const ts = this.ready.popFor(w, this.allowed);
      if (!ts) return;
      this.assign(ts, wid);
    }
  }

  private readonly allowed = (w: WorkerState, ts: TaskState<P>): boolean =>
    this.placement.allowed(w, ts);

  private toMemory(ts: TaskState<P>): void {
    this.transition(ts, 'memory');
    ts.suspicious = 0;
    this.emitDone(ts, ts.wantedBy);
    // Delivered: later wanters fetch the value from a worker, so the scheduler keeps no copy.
    ts.inline = null;
    for (const d of ts.dependents) {
      const dep = this.tasks.get(d)!;
      shrink(dep.waitingOn, ts.key);
      if (dep.state === 'waiting' && dep.waitingOn.size === 0) this.place(dep);
    }
    for (const depKey of ts.deps) {
      const dep = this.tasks.get(depKey);
      if (!dep) continue;
      shrink(dep.waiters, ts.key);
      this.maybeRelease(dep);
    }
    if (ts.wantedBy.size === 0 && ts.waiters.size === 0) this.maybeRelease(ts);
  }

  /** Errs a task and, with the same error, every dependent that has not finished. */
  private fail(root: TaskState<P>, error: RemoteError): void {
    const failed: TaskState<P>[] = [];
    const stack = [root];
    while (stack.length > 0) {
      const ts = stack.pop()!;
      if (ts.state === 'memory' || ts.state === 'erred') continue;
      if (ts.processingOn) this.unassign(ts, true);
      ts.error = error;
      this.transition(ts, 'erred');
      this.emitErred(ts, ts.wantedBy);
      for (const depKey of ts.deps) {
        const dep = this.tasks.get(depKey);
        if (!dep) continue;
        shrink(dep.waiters, ts.key);
        this.maybeRelease(dep);
      }
      ts.waiters = NONE;
      for (const d of ts.dependents) {
        const dt = this.tasks.get(d);
        if (dt) stack.push(dt);
      }
      failed.push(ts);
    }
    for (let i = failed.length - 1; i >= 0; i--) this.maybeRelease(failed[i]);
  }

  /**
   * Frees what nobody needs any more, and forgets it once nothing refers to it. Releasing one task
   * can free its dependencies in turn: they go on a worklist drained by the outermost call.
   */
  private maybeRelease(ts: TaskState<P>): void {
    this.releasing.push(ts);
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.releasing.length > 0) this.releaseOne(this.releasing.pop()!);
    } finally {
      this.draining = false;
    }
  }

  private releaseOne(ts: TaskState<P>): void {
    if (this.tasks.get(ts.key) !== ts) return; // forgotten meanwhile
    if (ts.wantedBy.size > 0 || ts.waiters.size > 0) return;
    if (ts.state === 'memory') {
      for (const wid of ts.who) {
        const w = this.workers.get(wid);
        if (w) {
          w.has.delete(ts.key);
          w.nbytes -= ts.nbytes;
        }
        this.out.push({ type: 'free-keys', worker: wid, keys: [ts.key] });
      }
      ts.who = NONE;
      ts.inline = null;
      this.transition(ts, 'released');
    } else if (ts.state !== 'released' && ts.state !== 'erred') {
      if (ts.processingOn) this.unassign(ts, true);
      this.transition(ts, 'released');
      for (const depKey of ts.deps) {
        const dep = this.tasks.get(depKey);
        if (!dep) continue;
        shrink(dep.waiters, ts.key);
        this.releasing.push(dep);
      }
    }
    // Forget it once nothing refers to it.
    if (ts.dependents.size > 0) return;
    if (ts.state !== 'released' && ts.state !== 'erred') return;
    if (!LEGAL_TRANSITIONS[ts.state].includes('forgotten'))
      this.illegal(ts.key, ts.state, 'forgotten');
    this.tasks.delete(ts.key);
    this.totals.forgotten += 1;
    this.untally(ts);
    this.record(ts.key, ts.state, 'forgotten');
    for (const depKey of ts.deps) {
      const dep = this.tasks.get(depKey);
      if (!dep) continue;
      shrink(dep.dependents, ts.key);
      shrink(dep.waiters, ts.key);
      this.releasing.push(dep);
    }
  }

  private addReplica(ts: TaskState<P>, wid: string): void {
    const w = this.workers.get(wid);
    if (!w || ts.who.has(wid)) return;
    grow(ts, 'who').add(wid);
    w.has.add(ts.key);
    w.nbytes += ts.nbytes;
  }

  private emitDone(ts: TaskState<P>, clients: Iterable<string>): void {
    const who = this.addresses(ts);
    for (const client of clients) {
      this.out.push({
        type: 'key-done',
        client,
        key: ts.key,
        who,
        nbytes: ts.nbytes,
        inline: ts.inline,
      });
    }
  }

  private emitErred(ts: TaskState<P>, clients: Iterable<string>): void {
    for (const client of clients) {
      this.out.push({ type: 'key-erred', client, key: ts.key, error: ts.error! });
    }
  }

  private addresses(ts: TaskState<P>): string[] {
    const out: string[] = [];
    for (const w of ts.who) out.push(this.workers.get(w)!.info.address);
    return out;
  }

  /** Every state change goes through here; leaving `queued` leaves its queue (ready or gangs) too. */
  private transition(ts: TaskState<P>, to: TaskStateName): void {
    if (!LEGAL_TRANSITIONS[ts.state].includes(to)) {
      this.illegal(ts.key, ts.state, to);
    }
    if (ts.state === 'queued' && to !== 'queued') {
      if (ts.ranks) this.gangs.remove(ts);
      else this.ready.remove(ts);
    }
    this.record(ts.key, ts.state, to);
    ts.tally[ts.state] -= 1;
    ts.tally[to] = (ts.tally[to] ?? 0) + 1;
    ts.state = to;
  }

  /** The shared counts of a key's kind (one object per kind, not per task). */
  private tallyOf(key: string): Record<string, number> {
    const prefix = this.kindOf(key);
    let t = this.byPrefix.get(prefix);
    if (!t) this.byPrefix.set(prefix, (t = {}));
    return t;
  }

  /** A key's kind; beyond MAX_KINDS kinds at once the rest share one, so counts stay bounded. */
  private kindOf(key: string): string {
    const prefix = keyPrefix(key);
    return this.byPrefix.has(prefix) || this.byPrefix.size < MAX_KINDS ? prefix : OTHER_KIND;
  }

  private untally(ts: TaskState<P>): void {
    ts.tally[ts.state] -= 1;
    if (Object.values(ts.tally).every((n) => n === 0)) {
      for (const [p, t] of this.byPrefix) if (t === ts.tally) this.byPrefix.delete(p);
    }
  }

  private illegal(key: string, from: Transition['from'], to: Transition['to']): never {
    const story = this.story(key)
      .slice(-20)
      .map((t) => `${t.from}->${t.to} (${t.cause})`)
      .join('; ');
    throw new InvariantError(
      `illegal transition of ${key}: ${from} -> ${to} during ${this.cause}; story: ${story || 'none'}`,
    );
  }

  private record(key: string, from: Transition['from'], to: Transition['to']): void {
    this.log.record(key, from, to, this.cause);
  }

  // ---------------------------------------------------------------- inspection

  /** Why a task is where it is: its transitions, oldest first. */
  story(key: string): Transition[] {
    return this.log.story(key);
  }

  /** Tasks by state, from the counts kept by kind: as many steps as kinds, not tasks. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const t of this.byPrefix.values()) {
      for (const [state, n] of Object.entries(t)) if (n !== 0) out[state] = (out[state] ?? 0) + n;
    }
    return out;
  }

  /** Checks every invariant; throws on the first broken one. Run after every unit test. */
  validateState(): void {
    validateState(this.tasks, this.workers);
    for (const w of this.workers.values()) {
      for (const key of w.seceded) {
        if (!w.processing.has(key))
          throw new InvariantError(`worker ${w.id}: seceded ${key} is not processing there`);
      }
    }
    // The tallies kept as tasks move agree with a count from scratch.
    const fresh = new Map<string, Record<string, number>>();
    const nameOf = new Map([...this.byPrefix].map(([p, t]) => [t, p]));
    for (const ts of this.tasks.values()) {
      const p = nameOf.get(ts.tally);
      if (p === undefined) throw new InvariantError(`task ${ts.key}: its kind's counts are gone`);
      const c = fresh.get(p) ?? {};
      c[ts.state] = (c[ts.state] ?? 0) + 1;
      fresh.set(p, c);
    }
    const kept = new Map<string, Record<string, number>>();
    for (const [p, c] of this.byPrefix) {
      kept.set(p, Object.fromEntries(Object.entries(c).filter(([, n]) => n !== 0)));
    }
    const norm = (m: Map<string, Record<string, number>>) =>
      JSON.stringify(
        [...m]
          .map(([p, c]) => [p, Object.entries(c).sort()])
          .sort((x, y) => (x[0] < y[0] ? -1 : 1)),
      );
    const a = norm(fresh);
    const b = norm(kept);
    if (a !== b) throw new InvariantError(`task counts by kind drifted: counted ${a}, kept ${b}`);
  }
}
