/**
 * Coordination primitives the scheduler holds (issue 22, item 5): named Variables, Queues,
 * Events, Locks, Semaphores and published datasets, usable from any client or task, gone with the
 * scheduler. A scheduler extension beside the task state machine (core.ts), not inside it.
 *
 * Pure, like the core: no socket, timer or clock. Requests, ticks and clients leaving come in with
 * the time; out come the replies to post and the core events that keep futures' keys alive.
 *
 * Keeping keys alive: a value held here (a Variable's, a Queue item, a put waiting for room, a
 * dataset) may hold futures. The scheduler's own pseudo-client COORD_HOLDER wants each such key
 * while any held value refers to it, exactly as a client's wants hold keys in the core: it joins
 * the core with 'client-join' when it first holds a key, asks for a key with a 'submit' of the
 * core's own record of that task (which the core takes as one more client wanting existing work:
 * no conflict, no recompute), lets go with 'release', and leaves when it holds nothing (so the
 * core's client count shows it only while it holds something). A client that takes a value gets
 * its keys wanted for it the same way before the holder may let go of them.
 */
import type { CoordAction, Op, OpOf, RemoteError } from '../protocol';
import type { ErrorCode } from '../errors';
import type { SchedulerEvent, TaskState } from './types';

/**
 * The pseudo-client that holds coordination's keys in the core. A routing id may not start with
 * a zero byte (libzmq reserves those), so no peer can speak as it.
 */
export const COORD_HOLDER = '\u0000coordination';

/** Bounds, so that no client can make the scheduler allocate without end. */
export const COORD_LIMITS = {
  /** Characters in a name (and in a Lock's or Semaphore's holder token). */
  maxName: 256,
  /** Named things alive at once, every kind together (an empty one is forgotten). */
  maxObjects: 10_000,
  /** Bytes of one value: its packed frames and its futures' keys. */
  maxValueBytes: 16 * 2 ** 20,
  /** Bytes of every value held together (variables, queue items, waiting puts, datasets). */
  maxTotalBytes: 256 * 2 ** 20,
  /** Futures inside one value. */
  maxKeysPerValue: 100_000,
  /** Items in one Queue: its maxsize when none is given, and the largest one may give. */
  maxQueueItems: 100_000,
  /** A Semaphore's leases. */
  maxLeases: 1_000_000,
  /** Requests of one client waiting at once (gets, puts, waits, acquires). */
  maxWaitersPerClient: 10_000,
  /** Keys fired and forgotten, still running, at once. */
  maxFired: 1_000_000,
};
export type CoordLimits = typeof COORD_LIMITS;

/** A value as it travels: packed frames, the keys of the futures inside, and its size. */
interface Value {
  frames: Buffer[];
  keys: string[];
  bytes: number;
}

/** A request that waits: whom to answer, until when (ms; Infinity: no timeout). */
interface Waiter {
  client: string;
  req: number;
  deadline: number;
  token: string;
  /** A put's value, held (and its keys kept alive) while it waits for room. */
  value?: Value;
}

interface VariableState {
  value: Value | null;
  getters: Waiter[];
}
interface QueueState {
  items: Value[];
  max: number;
  /** Whether `max` was given by a client (a later, different one is a misuse), or the default. */
  fixed: boolean;
  getters: Waiter[];
  putters: Waiter[];
}
interface EventState {
  set: boolean;
  waiters: Waiter[];
}
interface LockState {
  holder: { client: string; token: string } | null;
  waiters: Waiter[];
}
interface SemaphoreState {
  max: number;
  /** Leases by holder (client + token). */
  leases: Map<string, { client: string; token: string; n: number }>;
  used: number;
  waiters: Waiter[];
}

/** What the server posts to a client. */
export interface CoordMessage {
  client: string;
  op: Op;
  frames: Buffer[];
}

/** One step's output: messages to post first, then core events to run, in order. */
export interface CoordStep<P> {
  messages: CoordMessage[];
  events: SchedulerEvent<P>[];
}

type Request = OpOf<'coord'>;

class CoordError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export class Coordination<P> {
  private readonly variables = new Map<string, VariableState>();
  private readonly queues = new Map<string, QueueState>();
  private readonly events = new Map<string, EventState>();
  private readonly locks = new Map<string, LockState>();
  private readonly semaphores = new Map<string, SemaphoreState>();
  private readonly datasets = new Map<string, Value>();
  /**
   * Keys fired and forgotten (fireAndForget): each holds one reference until the core reports it
   * in memory or erred to the holder (settled()), so it runs to its end with no client wanting it
   * and is let go then.
   */
  private readonly fired = new Set<string>();
  /** How many held values refer to each key. */
  private readonly refs = new Map<string, number>();
  private totalBytes = 0;
  private readonly waiting = new Map<string, number>();
  /** Whether COORD_HOLDER is a client of the core now. */
  private joined = false;
  // One step's output and bookkeeping, gathered by the handlers and taken by flush().
  private messages: CoordMessage[] = [];
  /** Keys handed to clients in this step (their wants come before the holder lets go). */
  private handed: { client: string; keys: string[] }[] = [];
  /** Keys whose reference count changed in this step, with whether they were held before. */
  private touched = new Map<string, boolean>();

  constructor(
    /** The core's tasks: their records are what a want re-submits. */
    private readonly tasks: ReadonlyMap<string, TaskState<P>>,
    private readonly limits: CoordLimits = COORD_LIMITS,
  ) {}

  /** Named things alive now (every kind), for tests and the bound. */
  get size(): number {
    return (
      this.variables.size +
      this.queues.size +
      this.events.size +
      this.locks.size +
      this.semaphores.size +
      this.datasets.size
    );
  }

  /** Keys kept alive now, for tests. */
  get heldKeys(): string[] {
    return [...this.refs.keys()];
  }

  /** A client's request (its frames carry a value for set, put and publish). */
  request(client: string, op: Request, frames: Buffer[], now: number): CoordStep<P> {
    const w: Waiter = {
      client,
      req: op.req,
      deadline: op.timeout === undefined ? Infinity : now + Math.max(0, op.timeout),
      token: op.token ?? '',
    };
    try {
      this.checkName(op.action === 'dataset-list' ? 'x' : op.name, 'name');
      if (op.token !== undefined) this.checkName(op.token, 'token');
      this.dispatch(op, w, frames, now);
    } catch (err) {
      if (!(err instanceof CoordError)) throw err;
      this.fail(w, err.code, err.message);
    }
    return this.flush(now);
  }

  /** A client holds futures of these keys now: it wants them in the core (a missing one is cancelled). */
  want(client: string, keys: string[], now: number): CoordStep<P> {
    const have = keys.filter((k) => this.tasks.has(k));
    for (const key of keys) {
      if (!this.tasks.has(key))
        this.messages.push({ client, op: { t: 'key-cancelled', key }, frames: [] });
    }
    if (have.length > 0) this.handed.push({ client, keys: have });
    return this.flush(now);
  }

  /** A key the holder wants reached memory or erred: a fired one is let go (nothing else is). */
  settled(key: string, now: number): CoordStep<P> {
    if (this.fired.delete(key)) this.ref(key, -1);
    return this.flush(now);
  }

  /** Times out waits whose deadline passed; keeps the holder seen by the core. */
  tick(now: number): CoordStep<P> {
    const expire = (list: Waiter[], onTimeout: (w: Waiter) => void): Waiter[] =>
      list.filter((w) => {
        if (w.deadline > now) return true;
        this.unwait(w);
        onTimeout(w);
        return false;
      });
    for (const [name, v] of this.variables) {
      v.getters = expire(v.getters, (w) => this.timedOut(w, `Variable ${name}: no value`));
      this.tidyVariable(name, v);
    }
    for (const [name, q] of this.queues) {
      q.getters = expire(q.getters, (w) => this.timedOut(w, `Queue ${name}: no item`));
      q.putters = expire(q.putters, (w) => {
        this.drop(w.value!);
        this.timedOut(w, `Queue ${name}: full (maxsize ${q.max})`);
      });
      this.tidyQueue(name, q);
    }
    for (const [name, e] of this.events) {
      e.waiters = expire(e.waiters, (w) => this.reply(w, { flag: 0 }));
      this.tidyEvent(name, e);
    }
    for (const [name, l] of this.locks) {
      l.waiters = expire(l.waiters, (w) => this.reply(w, { flag: 0 }));
      this.tidyLock(name, l);
    }
    for (const [name, s] of this.semaphores) {
      s.waiters = expire(s.waiters, (w) => this.reply(w, { flag: 0 }));
      this.tidySemaphore(name, s);
    }
    const step = this.flush(now);
    if (this.joined) step.events.push({ type: 'client-seen', client: COORD_HOLDER, now });
    return step;
  }

  /** A client left: its waits end, its Locks and Semaphore leases are freed for the next. */
  clientLeft(client: string, now: number): CoordStep<P> {
    const mine = (w: Waiter) => w.client === client;
    const keep = (list: Waiter[]) =>
      list.filter((w) => {
        if (!mine(w)) return true;
        if (w.value) this.drop(w.value);
        return false;
      });
    for (const [name, v] of this.variables) {
      v.getters = keep(v.getters);
      this.tidyVariable(name, v);
    }
    for (const [name, q] of this.queues) {
      q.getters = keep(q.getters);
      q.putters = keep(q.putters);
      this.tidyQueue(name, q);
    }
    for (const [name, e] of this.events) {
      e.waiters = keep(e.waiters);
      this.tidyEvent(name, e);
    }
    for (const [name, l] of this.locks) {
      l.waiters = keep(l.waiters);
      if (l.holder?.client === client) this.passLock(l);
      this.tidyLock(name, l);
    }
    for (const [name, s] of this.semaphores) {
      s.waiters = keep(s.waiters);
      for (const [id, lease] of s.leases) {
        if (lease.client !== client) continue;
        s.used -= lease.n;
        s.leases.delete(id);
      }
      this.grantLeases(s);
      this.tidySemaphore(name, s);
    }
    this.waiting.delete(client);
    return this.flush(now);
  }

  // ---------------------------------------------------------------- requests

  private dispatch(op: Request, w: Waiter, frames: Buffer[], now: number): void {
    const name = op.name;
    switch (op.action as CoordAction) {
      case 'var-set': {
        const value = this.take(op, frames);
        let v: VariableState;
        try {
          v = this.variable(name);
        } catch (err) {
          this.drop(value);
          throw err;
        }
        if (v.value) this.drop(v.value);
        v.value = value;
        for (const g of v.getters.splice(0)) this.give(g, value);
        return this.reply(w, {});
      }
      case 'var-get': {
        const v = this.variables.get(name);
        if (v?.value) return this.give(w, v.value);
        return this.wait(w, now, () => this.variable(name).getters, `Variable ${name}: no value`);
      }
      case 'var-delete': {
        const v = this.variables.get(name);
        if (v?.value) this.drop(v.value);
        if (v) v.value = null;
        if (v) this.tidyVariable(name, v);
        return this.reply(w, {});
      }
      case 'queue-put': {
        const q = this.queue(name, op.max);
        let value: Value;
        try {
          value = this.take(op, frames);
        } catch (err) {
          this.tidyQueue(name, q);
          throw err;
        }
        const getter = q.getters.shift();
        if (getter) {
          this.unwait(getter);
          this.give(getter, value);
          this.drop(value);
          this.tidyQueue(name, q);
          return this.reply(w, {});
        }
        if (q.items.length < q.max) {
          q.items.push(value);
          return this.reply(w, {});
        }
        if (w.deadline <= now) {
          this.drop(value);
          return this.timedOut(w, `Queue ${name}: full (maxsize ${q.max})`);
        }
        try {
          this.wait(w, now, () => q.putters, '');
        } catch (err) {
          this.drop(value);
          throw err;
        }
        w.value = value;
        return;
      }
      case 'queue-get': {
        const q = this.queues.get(name);
        const item = q?.items.shift();
        if (q && item) {
          this.give(w, item);
          this.drop(item);
          // Room now: the first waiting put goes in.
          const putter = q.putters.shift();
          if (putter) {
            this.unwait(putter);
            q.items.push(putter.value!);
            this.reply(putter, {});
          }
          return this.tidyQueue(name, q);
        }
        return this.wait(
          w,
          now,
          () => this.queue(name, undefined).getters,
          `Queue ${name}: no item`,
        );
      }
      case 'queue-size':
        return this.reply(w, { n: this.queues.get(name)?.items.length ?? 0 });
      case 'event-set': {
        const e = this.event(name);
        e.set = true;
        for (const x of e.waiters.splice(0)) {
          this.unwait(x);
          this.reply(x, { flag: 1 });
        }
        return this.reply(w, {});
      }
      case 'event-clear': {
        const e = this.events.get(name);
        if (e) {
          e.set = false;
          this.tidyEvent(name, e);
        }
        return this.reply(w, {});
      }
      case 'event-wait': {
        if (this.events.get(name)?.set) return this.reply(w, { flag: 1 });
        return this.wait(w, now, () => this.event(name).waiters, null);
      }
      case 'event-is-set':
        return this.reply(w, { flag: this.events.get(name)?.set ? 1 : 0 });
      case 'lock-acquire': {
        this.needToken(op);
        const l = this.lock(name);
        if (!l.holder) {
          l.holder = { client: w.client, token: w.token };
          return this.reply(w, { flag: 1 });
        }
        return this.wait(w, now, () => l.waiters, null);
      }
      case 'lock-release': {
        this.needToken(op);
        const l = this.locks.get(name);
        if (!l?.holder || l.holder.client !== w.client || l.holder.token !== w.token) {
          throw new CoordError(
            'ERR_COORD_MISUSE',
            `Lock ${name}: released by a holder that does not hold it (${l?.holder ? 'another holder has it' : 'it is not held'})`,
          );
        }
        this.passLock(l);
        this.tidyLock(name, l);
        return this.reply(w, {});
      }
      case 'lock-locked':
        return this.reply(w, { flag: this.locks.get(name)?.holder ? 1 : 0 });
      case 'sem-acquire': {
        this.needToken(op);
        const s = this.semaphore(name, op.max);
        if (s.used < s.max && s.waiters.length === 0) {
          this.lease(s, w);
          return this.reply(w, { flag: 1 });
        }
        return this.wait(w, now, () => s.waiters, null);
      }
      case 'sem-release': {
        this.needToken(op);
        const s = this.semaphores.get(name);
        const id = `${w.client}\n${w.token}`;
        const lease = s?.leases.get(id);
        if (!s || !lease) {
          throw new CoordError(
            'ERR_COORD_MISUSE',
            `Semaphore ${name}: released by a holder with no lease (acquire first; each acquire is released once)`,
          );
        }
        lease.n -= 1;
        s.used -= 1;
        if (lease.n === 0) s.leases.delete(id);
        this.grantLeases(s);
        this.tidySemaphore(name, s);
        return this.reply(w, {});
      }
      case 'sem-value':
        return this.reply(w, { n: this.semaphores.get(name)?.used ?? 0 });
      case 'dataset-publish': {
        const had = this.datasets.get(name);
        if (had && op.override !== 1) {
          throw new CoordError(
            'ERR_DATASET_EXISTS',
            `a dataset named ${JSON.stringify(name)} is already published: unpublish it first, or publish with override`,
          );
        }
        if (!had) this.checkRoom();
        const value = this.take(op, frames);
        if (had) this.drop(had);
        this.datasets.set(name, value);
        return this.reply(w, {});
      }
      case 'dataset-get': {
        const value = this.datasets.get(name);
        if (!value) throw this.missing(name);
        return this.give(w, value);
      }
      case 'dataset-list':
        return this.reply(w, { names: [...this.datasets.keys()] });
      case 'dataset-unpublish': {
        const value = this.datasets.get(name);
        if (!value) throw this.missing(name);
        this.drop(value);
        this.datasets.delete(name);
        return this.reply(w, {});
      }
      case 'fire-and-forget': {
        const ts = this.tasks.get(name);
        if (!ts) {
          throw new CoordError(
            'ERR_COORD_MISUSE',
            `future ${name} is not held by the scheduler (released, or never submitted); fire it and forget it before releasing it`,
          );
        }
        // Ended already, or fired before: nothing more to keep.
        if (ts.state === 'memory' || ts.state === 'erred' || this.fired.has(name)) {
          return this.reply(w, {});
        }
        if (this.fired.size >= this.limits.maxFired) {
          throw new CoordError(
            'ERR_COORD_LIMIT',
            `${this.fired.size} fired-and-forgotten tasks are running, the scheduler's limit`,
          );
        }
        this.fired.add(name);
        this.ref(name, 1);
        return this.reply(w, {});
      }
    }
  }

  private missing(name: string): CoordError {
    return new CoordError(
      'ERR_DATASET_MISSING',
      `no dataset named ${JSON.stringify(name)} is published (listDatasets() says which are)`,
    );
  }

  // ---------------------------------------------------------------- objects

  private checkName(name: string, what: string): void {
    if (name.length === 0 || name.length > this.limits.maxName) {
      throw new CoordError(
        'ERR_COORD_LIMIT',
        `a ${what} must have 1 to ${this.limits.maxName} characters, got ${name.length}`,
      );
    }
  }

  private needToken(op: Request): void {
    if (op.token === undefined)
      throw new CoordError('ERR_COORD_MISUSE', `${op.action} needs a token`);
  }

  /** A new named thing must fit under maxObjects. */
  private checkRoom(): void {
    if (this.size >= this.limits.maxObjects) {
      throw new CoordError(
        'ERR_COORD_LIMIT',
        `the scheduler holds ${this.size} named coordination objects, its limit: delete variables, empty queues or unpublish datasets first`,
      );
    }
  }

  private variable(name: string): VariableState {
    let v = this.variables.get(name);
    if (!v) {
      this.checkRoom();
      v = { value: null, getters: [] };
      this.variables.set(name, v);
    }
    return v;
  }

  /** A Queue; `max` given (> 0) fixes its maxsize, and must agree with one fixed before. */
  private queue(name: string, max: number | undefined): QueueState {
    const given = max !== undefined && max > 0;
    if (given && !(Number.isInteger(max) && max <= this.limits.maxQueueItems)) {
      throw new CoordError(
        'ERR_COORD_LIMIT',
        `Queue ${name}: maxsize must be an integer from 1 to ${this.limits.maxQueueItems}, got ${max}`,
      );
    }
    let q = this.queues.get(name);
    if (!q) {
      this.checkRoom();
      q = { items: [], max: this.limits.maxQueueItems, fixed: false, getters: [], putters: [] };
      this.queues.set(name, q);
    }
    if (given) {
      if (q.fixed && q.max !== max) {
        throw new CoordError(
          'ERR_COORD_MISUSE',
          `Queue ${name} has maxsize ${q.max}; it was named again with maxsize ${max}`,
        );
      }
      q.max = max;
      q.fixed = true;
    }
    return q;
  }

  private event(name: string): EventState {
    let e = this.events.get(name);
    if (!e) {
      this.checkRoom();
      e = { set: false, waiters: [] };
      this.events.set(name, e);
    }
    return e;
  }

  private lock(name: string): LockState {
    let l = this.locks.get(name);
    if (!l) {
      this.checkRoom();
      l = { holder: null, waiters: [] };
      this.locks.set(name, l);
    }
    return l;
  }

  private semaphore(name: string, max: number | undefined): SemaphoreState {
    if (max === undefined || !Number.isInteger(max) || max < 1 || max > this.limits.maxLeases) {
      throw new CoordError(
        'ERR_COORD_LIMIT',
        `Semaphore ${name}: maxLeases must be an integer from 1 to ${this.limits.maxLeases}, got ${max}`,
      );
    }
    let s = this.semaphores.get(name);
    if (!s) {
      this.checkRoom();
      s = { max, leases: new Map(), used: 0, waiters: [] };
      this.semaphores.set(name, s);
    }
    if (s.max !== max) {
      throw new CoordError(
        'ERR_COORD_MISUSE',
        `Semaphore ${name} has ${s.max} leases; it was named again with ${max}`,
      );
    }
    return s;
  }

  // Empty things are forgotten, so that names do not pile up.
  private tidyVariable(name: string, v: VariableState): void {
    if (!v.value && v.getters.length === 0) this.variables.delete(name);
  }
  private tidyQueue(name: string, q: QueueState): void {
    if (q.items.length === 0 && q.getters.length === 0 && q.putters.length === 0) {
      this.queues.delete(name);
    }
  }
  private tidyEvent(name: string, e: EventState): void {
    if (!e.set && e.waiters.length === 0) this.events.delete(name);
  }
  private tidyLock(name: string, l: LockState): void {
    if (!l.holder && l.waiters.length === 0) this.locks.delete(name);
  }
  private tidySemaphore(name: string, s: SemaphoreState): void {
    if (s.used === 0 && s.waiters.length === 0) this.semaphores.delete(name);
  }

  /** The lock goes to its first waiter, or is free. */
  private passLock(l: LockState): void {
    const next = l.waiters.shift();
    l.holder = next ? { client: next.client, token: next.token } : null;
    if (next) {
      this.unwait(next);
      this.reply(next, { flag: 1 });
    }
  }

  /** Free leases go to waiters, first come first served. */
  private grantLeases(s: SemaphoreState): void {
    while (s.used < s.max && s.waiters.length > 0) {
      const next = s.waiters.shift()!;
      this.unwait(next);
      this.lease(s, next);
      this.reply(next, { flag: 1 });
    }
  }

  private lease(s: SemaphoreState, w: Waiter): void {
    const id = `${w.client}\n${w.token}`;
    const lease = s.leases.get(id) ?? { client: w.client, token: w.token, n: 0 };
    lease.n += 1;
    s.leases.set(id, lease);
    s.used += 1;
  }

  // ---------------------------------------------------------------- values and keys

  /** A request's value, checked against the bounds; its keys are held from now on. */
  private take(op: Request, frames: Buffer[]): Value {
    const keys = op.keys ?? [];
    if (frames.length === 0)
      throw new CoordError('ERR_COORD_MISUSE', `${op.action} carries no value`);
    if (keys.length > this.limits.maxKeysPerValue) {
      throw new CoordError(
        'ERR_COORD_LIMIT',
        `a value may hold at most ${this.limits.maxKeysPerValue} futures, got ${keys.length}`,
      );
    }
    let bytes = 0;
    for (const f of frames) bytes += f.length;
    for (const k of keys) bytes += k.length;
    if (bytes > this.limits.maxValueBytes) {
      throw new CoordError(
        'ERR_COORD_LIMIT',
        `a value of ${bytes} bytes is over the scheduler's ${this.limits.maxValueBytes} for one value: pass large data as a future (scatter or a task's result)`,
      );
    }
    if (this.totalBytes + bytes > this.limits.maxTotalBytes) {
      throw new CoordError(
        'ERR_COORD_LIMIT',
        `the scheduler holds ${this.totalBytes} bytes of coordination values; ${bytes} more is over its ${this.limits.maxTotalBytes}`,
      );
    }
    const unknown = keys.find((k) => !this.tasks.has(k));
    if (unknown !== undefined) {
      throw new CoordError(
        'ERR_COORD_MISUSE',
        `future ${unknown} is not held by the scheduler (released, or never submitted); it cannot be stored`,
      );
    }
    const value = { frames, keys: [...new Set(keys)], bytes };
    this.totalBytes += bytes;
    for (const k of value.keys) this.ref(k, 1);
    return value;
  }

  /** A held value let go: its bytes and its keys' references. */
  private drop(value: Value): void {
    this.totalBytes -= value.bytes;
    for (const k of value.keys) this.ref(k, -1);
  }

  private ref(key: string, by: number): void {
    const had = this.refs.get(key) ?? 0;
    if (!this.touched.has(key)) this.touched.set(key, had > 0);
    if (had + by > 0) this.refs.set(key, had + by);
    else this.refs.delete(key);
  }

  // ---------------------------------------------------------------- replies

  /** Queues a request on `list` (made only now, so a wait that ends at once leaves nothing). */
  private wait(w: Waiter, now: number, list: () => Waiter[], timeoutError: string | null): void {
    if (w.deadline <= now) {
      if (timeoutError === null) return this.reply(w, { flag: 0 });
      return this.timedOut(w, timeoutError);
    }
    const n = this.waiting.get(w.client) ?? 0;
    if (n >= this.limits.maxWaitersPerClient) {
      throw new CoordError(
        'ERR_COORD_LIMIT',
        `this client has ${n} coordination requests waiting, the scheduler's limit per client`,
      );
    }
    list().push(w);
    this.waiting.set(w.client, n + 1);
  }

  /** A waiter leaves its list: its client's count goes down. */
  private unwait(w: Waiter): void {
    const n = (this.waiting.get(w.client) ?? 1) - 1;
    if (n > 0) this.waiting.set(w.client, n);
    else this.waiting.delete(w.client);
  }

  private reply(w: Waiter, fields: { flag?: number; n?: number; names?: string[] }): void {
    this.messages.push({
      client: w.client,
      op: { t: 'coord-reply', req: w.req, nf: 0, ...fields },
      frames: [],
    });
  }

  /** Hands a value to a waiter: the reply, and its keys wanted for that client. */
  private give(w: Waiter, value: Value): void {
    this.messages.push({
      client: w.client,
      op: { t: 'coord-reply', req: w.req, nf: value.frames.length },
      frames: value.frames,
    });
    if (value.keys.length > 0) this.handed.push({ client: w.client, keys: value.keys });
  }

  private fail(w: Waiter, code: ErrorCode, message: string): void {
    const error: RemoteError = { name: 'ClusterError', code, message };
    this.messages.push({
      client: w.client,
      op: { t: 'coord-reply', req: w.req, nf: 0, error },
      frames: [],
    });
  }

  private timedOut(w: Waiter, what: string): void {
    const waited = Number.isFinite(w.deadline) ? ' within its timeout' : '';
    this.fail(w, 'ERR_TIMEOUT', `${what}${waited}`);
  }

  /**
   * The step's output. Core events in the order that keeps every key alive throughout: clients'
   * wants and the holder's new keys first, the holder's releases last.
   */
  private flush(now: number): CoordStep<P> {
    const events: SchedulerEvent<P>[] = [];
    for (const { client, keys } of this.handed) {
      const tasks = this.records(keys);
      if (tasks.length > 0) events.push({ type: 'submit', client, tasks });
    }
    const gained: string[] = [];
    const lost: string[] = [];
    for (const [key, before] of this.touched) {
      const after = this.refs.has(key);
      if (after && !before) gained.push(key);
      else if (before && !after) lost.push(key);
    }
    if (gained.length > 0) {
      if (!this.joined) events.push({ type: 'client-join', client: COORD_HOLDER, now });
      this.joined = true;
      events.push({ type: 'submit', client: COORD_HOLDER, tasks: this.records(gained) });
    }
    if (lost.length > 0) events.push({ type: 'release', client: COORD_HOLDER, keys: lost });
    if (this.joined && this.refs.size === 0) {
      events.push({ type: 'client-leave', client: COORD_HOLDER, reason: 'holds no keys' });
      this.joined = false;
    }
    const messages = this.messages;
    this.messages = [];
    this.handed = [];
    this.touched = new Map();
    return { messages, events };
  }

  /** The core's own record of each key, as a submit that wants existing work (no conflict). */
  private records(keys: string[]): SubmitTasks<P> {
    const out: SubmitTasks<P> = [];
    for (const key of keys) {
      const ts = this.tasks.get(key);
      if (!ts) continue;
      out.push({
        key,
        deps: [...ts.deps],
        priority: ts.priority,
        retries: ts.retries,
        fingerprint: ts.fingerprint,
        // Scattered data has no payload; the core never computes a key it holds already.
        payload: ts.payload as P,
      });
    }
    return out;
  }
}

type SubmitTasks<P> = Extract<SchedulerEvent<P>, { type: 'submit' }>['tasks'];
