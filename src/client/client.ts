import { createHash, randomUUID } from 'node:crypto';
import { progress } from './progress';
import { warnUnrunnable } from './unrunnable';
import { performanceReport } from './report';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type * as zmq from 'zeromq';
import { ClusterError, OptionError } from '../errors';
import { log } from '../log';
import { Outbox, PeerPool, dealer, localKeys, resolveSecurity, type ClusterKeys } from '../net';
import { decode, pack, packedBytes, unpack, type Envelope, type SchedulerInfo } from '../protocol';
import { fnName, fnSpecOf, type TaskFunction } from './fnspec';
import { isMpiProgram, programTask, type MpiProgram, type ProgramResult } from './program';
import {
  Future,
  NO_WAITERS,
  TaskError,
  addWaiter,
  inlineFrames,
  inlineResult,
  type FutureHost,
  type KeyState,
} from './future';
import { collectFutures, substitute, zip } from './structure';
import { validateTaskOptions, type TaskOptions } from './task-options';
import { MapSubmits, isScalarArgs, mapKeys } from './map-submits';
import { HolderLists, KeyTable, newKeyState } from './key-table';
import { eachSliced } from '../util/sliced';
import { FN_CACHE_SIZE, Lru } from '../util/lru';
import { handshakeRefused, withTimeout } from './handshake';
import { parseDuration } from '../util/duration';
import type {
  Args,
  ClientOptions,
  GangArgs,
  GangFunction,
  GangMapArgs,
  Gathered,
  MapArgs,
  Ret,
  ScatterOptions,
} from './types';
import { resolveTarget, type ConnectTarget } from './target';
import { closeClientAtScriptEnd } from '../cluster/script-end';
import { computeGraph, persistGraph } from '../graph/run';
import { noteClient } from '../graph/default-client';
import type { Computed, Persisted } from '../graph/node';
import * as coord from './coordination';

export type { ClientOptions, Gathered, ScatterOptions } from './types';

const HEARTBEAT_MS = 2000;
/** A scheduler silent this long (ms) is counted gone (ClientOptions.schedulerTimeout). */
const SCHEDULER_TIMEOUT_MS = 60_000;
/**
 * An idle client (nothing awaited) does not keep a read pending, so Node can exit; instead it
 * reads whatever arrived this often, so notices for futures nobody awaits never pile up.
 */
const IDLE_DRAIN_MS = 500;
/** Gathering gives the event loop a turn after this much unpacking (ms). */
const SLICE_MS = 20;

/**
 * A connection to a scheduler. Submit functions, get Futures back at once, gather results.
 * Create one with `Client.connect()` (see the package's `connect` for every form).
 */
export class Client implements FutureHost {
  readonly id = `c-${randomUUID()}`;
  schedulerId = '';
  /** The scheduler's /metrics link with its token (null when it serves no HTTP). */
  metricsLink: string | null = null;
  /** The scheduler's dashboard page, with its token (null when it serves no HTTP). */
  dashboardLink: string | null = null;
  nWorkers = 0;
  /** Counts worker removals seen (n-workers going down): holders learnt before one may be gone. */
  private removals = 0;
  /** One entry per key some live Future of this client refers to; removed with the last one. */
  private readonly keys = new KeyTable();
  private readonly holderLists = new HolderLists();
  /** Functions the scheduler holds for this client, kept in step with its cache (Lru). */
  private readonly defined = new Lru<string, true>(FN_CACHE_SIZE);
  private readonly outbox: Outbox;
  private readonly peers: PeerPool;
  private readonly replies = new Map<
    number,
    { resolve: (op: Envelope['op']) => void; reject: (err: Error) => void }
  >();
  private readonly workerWaiters: (() => void)[] = [];
  private readonly registry = new FinalizationRegistry<string>((key) => this.decref(key));
  private nextReq = 1;
  private waits = 0;
  private lastHeard = Date.now();
  private lastBeat = Date.now();
  private reading = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private idleDrain: NodeJS.Timeout | undefined;
  private closedReason: string | null = null;
  private welcomed!: () => void;
  /** A cluster `connect()` started for this client: closed with it. */
  private owned: { close(): Promise<void> } | null = null;
  private leaveScriptEnd: (() => void) | null = null;

  private constructor(
    private readonly socket: zmq.Dealer,
    readonly address: string,
    keys: ClusterKeys | null,
  ) {
    this.outbox = new Outbox(socket, false, 'client');
    this.peers = new PeerPool('client', keys);
  }

  /**
   * Connects a client:
   * - `connect()` starts a LocalCluster (`connect({ local: options })` with options), owned by
   *   the client: closed with it, or when the script ends;
   * - `connect('tcp://10.0.0.5:40123')` joins a running scheduler;
   * - `connect({ schedulerFile: 'sched.json' })` waits for the file and joins (`notBefore`: ignore
   *   a file written before that time, ms since the epoch, e.g. one an earlier job left);
   * - `connect(cluster)` joins a LocalCluster or a job-queue cluster (SLURMCluster, ...).
   * Durations (`timeout`, `schedulerTimeout`) are ms, or strings with a unit ('30s').
   */
  static async connect(target?: ConnectTarget): Promise<Client> {
    const { options, owned } = await resolveTarget(target);
    try {
      const client = await Client.open(options);
      client.owned = owned;
      return client;
    } catch (err) {
      await owned?.close();
      throw err;
    }
  }

  /** Connects to a running scheduler at an address. */
  static async open(options: ClientOptions): Promise<Client> {
    const timeout = options.timeout ?? 30_000;
    const st = options.schedulerTimeout;
    if (st !== undefined && !(typeof st === 'number' && st > 0 && Number.isFinite(st))) {
      throw new OptionError(`schedulerTimeout must be a positive number of ms, got ${st}`);
    }
    const given = options.security ?? localKeys(options.address);
    const keys = resolveSecurity(given, 'client', 'plain');
    const socket = dealer(keys);
    const c = new Client(socket, options.address, keys);
    socket.routingId = c.id;
    socket.connect(options.address);
    // No welcome soon: a probe finds out whether the scheduler refuses our handshake.
    const refused = handshakeRefused(options.address, keys);
    const welcomed = new Promise<void>((r) => (c.welcomed = r));
    c.wake();
    c.outbox.post('', { t: 'hello-client', id: c.id, name: options.name ?? `pid-${process.pid}` });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ClusterError(
              'ERR_TIMEOUT',
              `no scheduler answered at ${options.address} within ${timeout / 1000} s: check the address, that the scheduler runs, and that this host can reach that interface`,
            ),
          ),
        timeout,
      );
    });
    try {
      await Promise.race([welcomed, timedOut, refused.promise]);
    } catch (err) {
      await c.teardown();
      throw err;
    } finally {
      clearTimeout(timer);
      refused.stop();
    }
    const schedulerTimeout = options.schedulerTimeout ?? SCHEDULER_TIMEOUT_MS;
    c.lastHeard = c.lastBeat = Date.now();
    c.heartbeat = setInterval(() => {
      c.outbox.post('', { t: 'heartbeat' });
      c.checkScheduler(schedulerTimeout);
    }, HEARTBEAT_MS);
    c.heartbeat.unref();
    c.idleDrain = setInterval(() => void c.drainIdle(), IDLE_DRAIN_MS);
    c.idleDrain.unref();
    c.leaveScriptEnd = closeClientAtScriptEnd({
      busy: () => c.demand() > 0,
      close: () => c.close(),
    });
    noteClient(c); // the client node.compute() uses when given none (src/graph)
    return c;
  }

  /**
   * The scheduler's socket is read only while something waits on it (a result, a reply, workers,
   * the welcome), so a script whose work is done can end: an idle client never keeps Node alive.
   */
  private demand(): number {
    return this.waits + this.replies.size + this.workerWaiters.length + (this.schedulerId ? 0 : 1);
  }

  private wake(): void {
    if (!this.reading && !this.closedReason) void this.receive();
  }

  private async receive(): Promise<void> {
    this.reading = true;
    try {
      while (this.demand() > 0 && !this.closedReason) this.onParts(await this.socket.receive());
    } catch (err) {
      if (!this.closedReason) log.debug(`client: ${(err as Error).message}`);
    } finally {
      this.reading = false;
    }
  }

  /** Reads, without waiting, what arrived while nothing was awaited. */
  private async drainIdle(): Promise<void> {
    if (this.reading || this.closedReason || this.socket.closed) return;
    this.reading = true;
    this.socket.receiveTimeout = 0;
    try {
      for (;;) this.onParts(await this.socket.receive());
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'EAGAIN' && !this.closedReason) log.debug(`client: ${(err as Error).message}`);
    } finally {
      if (!this.socket.closed) this.socket.receiveTimeout = -1;
      this.reading = false;
    }
    if (this.demand() > 0) this.wake();
  }

  private onParts(parts: Buffer[]): void {
    this.lastHeard = Date.now();
    let envs: Envelope[];
    try {
      envs = decode(parts);
    } catch (err) {
      log.warn(`client: malformed message from scheduler: ${(err as Error).message}`);
      return;
    }
    for (const env of envs) this.onMessage(env);
  }

  private onMessage({ op, frames }: Envelope): void {
    switch (op.t) {
      case 'welcome':
        this.metricsLink = op.http ?? null;
        this.dashboardLink = op.dashboard ?? null;
        this.schedulerId = op.schedulerId;
        this.nWorkers = op.nWorkers;
        this.welcomed();
        return;
      case 'key-done':
        return this.settle(op.key, 'finished', null, frames.length > 0 ? frames : null, op.who);
      case 'key-erred':
        return this.settle(op.key, 'error', new TaskError(op.error));
      case 'key-cancelled':
        return this.settle(
          op.key,
          'cancelled',
          new ClusterError('ERR_CANCELLED', `task ${op.key} was cancelled`),
        );
      case 'key-lost': {
        const ks = this.keys.get(op.key);
        if (ks) ks.status = 'pending';
        return;
      }
      case 'n-workers':
        if (op.n < this.nWorkers) this.removals += 1;
        this.nWorkers = op.n;
        for (const w of this.workerWaiters.splice(0)) w();
        return;
      case 'who-has-reply':
      case 'info-reply':
      case 'rebalance-reply':
        this.replies.get(op.req)?.resolve(op);
        this.replies.delete(op.req);
        return;
      case 'coord-reply': {
        const pending = this.replies.get(op.req);
        this.replies.delete(op.req);
        if (pending) coord.settleReply(op, frames, (key) => this.adopt(key), pending);
        return;
      }
      case 'closing':
        if (op.code === 'ERR_REMOVED') this.markClosed(`the scheduler ${op.reason}`, 'ERR_REMOVED');
        else this.markClosed(`scheduler closed: ${op.reason}`);
        return;
      case 'heartbeat':
        return;
      case 'task-unrunnable':
        return warnUnrunnable(op);
    }
  }

  private settle(
    key: string,
    status: KeyState['status'],
    error: Error | null,
    inline: Buffer[] | null = null,
    who: string[] = [],
  ): void {
    const ks = this.keys.get(key);
    if (!ks) return;
    ks.status = status;
    ks.error = error;
    ks.inline = inline && inlineResult(inline);
    ks.who = this.holderLists.of(who);
    ks.whoAsOf = this.removals;
    const waiters = ks.waiters;
    if (waiters.length === 0) return;
    ks.waiters = NO_WAITERS;
    this.waits -= waiters.length;
    for (const w of waiters) w();
  }

  private markClosed(
    reason: string,
    code: 'ERR_SCHEDULER_GONE' | 'ERR_REMOVED' = 'ERR_SCHEDULER_GONE',
  ): void {
    if (this.closedReason) return;
    this.closedReason = reason;
    for (const ks of this.keys.values()) {
      if (ks.status === 'pending' || ks.status === 'lost') {
        this.settle(
          ks.key,
          'error',
          new ClusterError(code, `${reason}; task ${ks.key} will not finish`),
        );
      }
    }
    for (const w of this.workerWaiters.splice(0)) w();
    for (const r of this.replies.values()) {
      r.reject(new ClusterError(code, `${reason}; no reply will come`));
    }
    this.replies.clear();
  }

  /**
   * Runs with every heartbeat: a scheduler silent for longer than `schedulerTimeout` is gone. Time
   * this process itself was stalled (a late heartbeat) is not counted as the scheduler's silence.
   */
  private checkScheduler(timeout: number): void {
    const now = Date.now();
    const late = now - this.lastBeat - HEARTBEAT_MS;
    this.lastBeat = now;
    if (late > HEARTBEAT_MS) this.lastHeard += late;
    const silent = now - this.lastHeard;
    if (silent > timeout) {
      this.markClosed(
        `scheduler at ${this.address} silent for ${Math.round(silent / 1000)} s (schedulerTimeout ${timeout / 1000} s): it died, or its host or network is gone`,
      );
      void this.teardown();
    }
  }

  private checkOpen(): void {
    if (this.closedReason)
      throw new ClusterError('ERR_CLIENT_CLOSED', `client is closed (${this.closedReason})`);
  }

  // ---------------------------------------------------------------- futures

  private track(key: string): Future {
    let ks = this.keys.get(key);
    if (!ks) {
      ks = newKeyState(key);
      this.keys.set(key, ks);
    }
    return this.futureOf(ks);
  }

  /** A new Future of a tracked key: one more reference, let go when it is collected. */
  private futureOf(ks: KeyState): Future {
    ks.refs += 1;
    const f = new Future(ks.key, this);
    this.registry.register(f, ks.key, f);
    return f;
  }

  private decref(key: string): void {
    const ks = this.keys.get(key);
    if (!ks) return;
    ks.refs -= 1;
    if (ks.refs > 0) return;
    if (ks.waiters.length > 0) {
      this.settle(
        key,
        'cancelled',
        new ClusterError('ERR_CANCELLED', `future ${key} was released`),
      );
    }
    this.keys.delete(key);
    if (!this.closedReason) this.outbox.postKeys('', 'release', [key]);
  }

  stateOf(key: string): KeyState {
    return (
      this.keys.get(key) ?? {
        key,
        status: 'cancelled',
        error: null,
        inline: null,
        who: [],
        refs: 0,
        waiters: [],
      }
    );
  }

  releaseRef(key: string, future: object): void {
    this.registry.unregister(future);
    this.decref(key);
  }

  /**
   * Resolves once every key has settled: one promise for the lot, not one per key (a gather of
   * 10,000 futures would otherwise allocate and chain 10,000 promises).
   */
  private async allSettled(keys: string[]): Promise<void> {
    // One more than the waiters until all are in: keys settle while a long list is walked.
    let remaining = 1;
    let done!: () => void;
    const p = new Promise<void>((r) => (done = r));
    const one = () => {
      if (--remaining === 0) done();
    };
    const wait = (key: string) => {
      const ks = this.keys.get(key);
      if (!ks || (ks.status !== 'pending' && ks.status !== 'lost')) return;
      remaining += 1;
      this.waits += 1;
      addWaiter(ks, one);
      if (remaining === 2) this.wake();
    };
    if (keys.length === 1) wait(keys[0]);
    else await eachSliced(keys, wait, SLICE_MS);
    one();
    return p;
  }

  whenSettled(key: string): Promise<void> {
    const ks = this.keys.get(key);
    if (!ks || (ks.status !== 'pending' && ks.status !== 'lost')) return Promise.resolve();
    this.waits += 1;
    this.wake();
    return new Promise((r) => addWaiter(ks, r));
  }

  async resultOf(key: string): Promise<unknown> {
    const values = await this.fetchResults([key]);
    return values.get(key);
  }

  /** Waits for keys and brings their values here: inline ones at once, the rest from workers. */
  private async fetchResults(keys: string[]): Promise<Map<string, unknown>> {
    const out = new Map<string, unknown>();
    const unique = new Set<string>();
    await eachSliced(keys, (k) => unique.add(k), SLICE_MS);
    let todo = [...unique];
    while (todo.length > 0) {
      await this.allSettled(todo);
      // Holders learnt before a worker left may be that worker: ask first rather than time out.
      const stale: string[] = [];
      await eachSliced(
        todo,
        (k) => {
          const ks = this.keys.get(k);
          if (ks?.status === 'finished' && !ks.inline && ks.whoAsOf !== this.removals)
            stale.push(k);
        },
        SLICE_MS,
      );
      if (stale.length > 0) await this.refreshWhoHas(stale);
      const byWorker = new Map<string, string[]>();
      const retry: string[] = [];
      let sliceStart = performance.now();
      for (const key of todo) {
        if (performance.now() - sliceStart > SLICE_MS) {
          await nextTurn();
          sliceStart = performance.now();
        }
        const ks = this.keys.get(key);
        if (!ks) throw new ClusterError('ERR_CANCELLED', `future ${key} was released`);
        // Its holder left meanwhile: it is being computed again; wait for it in the next round.
        if (ks.status === 'pending' || ks.status === 'lost') {
          retry.push(key);
          continue;
        }
        if (ks.status !== 'finished')
          throw ks.error ?? new ClusterError('ERR_CANCELLED', `task ${key} ${ks.status}`);
        if (ks.inline) out.set(key, unpack(inlineFrames(ks.inline)));
        else {
          const from = ks.who[0] ?? '';
          const list = byWorker.get(from);
          if (list) list.push(key);
          else byWorker.set(from, [key]);
        }
      }
      await Promise.all(
        [...byWorker].map(async ([from, ks]) => {
          try {
            const envs = await this.peers.request(from, { t: 'get-data', req: 0, keys: ks });
            for (const env of envs) {
              if (env.op.t === 'data') out.set(env.op.key, unpack(env.frames));
              else if (env.op.t === 'no-data') retry.push(env.op.key);
            }
          } catch {
            this.peers.drop(from);
            for (const k of ks) retry.push(k);
          }
        }),
      );
      // A holder that is gone: ask the scheduler where the data is now, then try again.
      if (retry.length > 0) await this.refreshWhoHas(retry);
      todo = retry;
    }
    return out;
  }

  private async refreshWhoHas(keys: string[]): Promise<void> {
    const reply = await this.request({ t: 'who-has', req: 0, keys });
    if (reply.t !== 'who-has-reply') return;
    for (const key of keys) {
      const ks = this.keys.get(key);
      if (!ks) continue;
      const who = reply.who[key] ?? [];
      ks.whoAsOf = this.removals;
      if (who.length > 0) ks.who = who;
      else if (ks.status === 'finished') ks.status = 'lost';
    }
  }

  private request(op: Envelope['op'], frames: Buffer[] = []): Promise<Envelope['op']> {
    this.checkOpen();
    const req = this.nextReq++;
    return new Promise((resolve, reject) => {
      this.replies.set(req, { resolve, reject });
      this.outbox.post('', { ...op, req } as Envelope['op'], frames);
      this.wake();
    });
  }

  /**
   * @internal A future of a key handed over by a coordination reply. The scheduler wanted the key
   * for this client when it replied; a key new here is wanted again, after any release of it this
   * client sent meanwhile.
   */
  adopt(key: string): Future {
    const known = this.keys.has(key);
    const future = this.track(key);
    if (!known) this.outbox.post('', { t: 'want-keys', keys: [key] });
    return future;
  }

  /** @internal A coordination request (client/coordination.ts); `value` travels packed. */
  coordinate(req: coord.CoordRequest, value?: { v: unknown }): Promise<coord.CoordResult> {
    const { frames, keys } = value ? coord.packValue(value.v) : { frames: [], keys: [] };
    const op = { t: 'coord', req: 0, ...req, keys, nf: frames.length } as const;
    return this.request(op, frames) as Promise<coord.CoordResult>;
  }

  /** Publishes a value (futures inside stay alive on the scheduler) under a name for any client. */
  publishDataset(name: string, value: unknown, options?: { override?: boolean }): Promise<void> {
    return coord.publishDataset(this, name, value, options);
  }

  /** A published dataset's value, its futures now this client's (ERR_DATASET_MISSING if none). */
  getDataset<T = unknown>(name: string): Promise<T> {
    return coord.getDataset(this, name) as Promise<T>;
  }

  /** The names of the published datasets. */
  listDatasets(): Promise<string[]> {
    return coord.listDatasets(this);
  }

  /** Unpublishes a dataset: its futures are let go by the scheduler (not by their holders). */
  unpublishDataset(name: string): Promise<void> {
    return coord.unpublishDataset(this, name);
  }

  // ---------------------------------------------------------------- public API

  /** Runs `fn(...args)` on a worker; returns a Future at once. */
  submit<F extends TaskFunction>(fn: F, ...args: Args<F>): Future<Ret<F>> {
    return this.submitWith({}, fn, ...args);
  }

  /**
   * `submit` with per-task options: key, pure, retries, priority, resources, workers, and ranks
   * (a gang task: `fn(comm, ...args)` on that many MPI worker ranks at once; its result is every
   * rank's return, in rank order).
   */
  submitWith(
    options: TaskOptions & { ranks: number },
    program: MpiProgram,
  ): Future<(ProgramResult | null)[]>;
  submitWith<F extends GangFunction>(
    options: TaskOptions & { ranks: number },
    fn: F,
    ...args: GangArgs<F>
  ): Future<Ret<F>[]>;
  submitWith<F extends TaskFunction>(options: TaskOptions, fn: F, ...args: Args<F>): Future<Ret<F>>;
  submitWith(
    options: TaskOptions,
    fn: TaskFunction | MpiProgram,
    ...args: unknown[]
  ): Future<unknown> {
    // An external MPI program is a gang task of the library's own function (client/program.ts).
    if (isMpiProgram(fn)) return this.submitWith(...programTask(options, fn, args));
    this.checkOpen();
    const opts = validateTaskOptions(options);
    const { id, spec } = fnSpecOf(fn);
    const deps = new Set<string>();
    const frames = pack(args, {
      futureKey: (v) => {
        if (!(v instanceof Future)) return undefined;
        deps.add(v.key);
        return v.key;
      },
    });
    let key = opts.key;
    let fp: string | undefined;
    if (key) {
      // An explicit key names this work: the same key for other work is a conflict.
      const h = createHash('sha1')
        .update(id)
        .update(JSON.stringify([...deps]));
      for (const f of frames) h.update(f);
      fp = h.digest('hex');
      const mine = this.keys.get(key);
      if (mine && mine.fp !== fp) {
        throw new ClusterError(
          'ERR_KEY_CONFLICT',
          `key ${key} is already in use by this client for another function, arguments or dependencies; choose another key, or release the first future before reusing it`,
        );
      }
    } else if (opts.pure) {
      const h = createHash('sha1').update(id);
      for (const f of frames) h.update(f);
      key = `${fnName(fn)}-${h.digest('hex').slice(0, 24)}`;
    } else key = `${fnName(fn)}-${randomUUID()}`;
    const known = this.keys.has(key);
    const future = this.track(key);
    if (fp !== undefined) this.keys.get(key)!.fp = fp;
    if (!known) {
      if (!this.defined.use(id, true)) this.outbox.post('', { t: 'define-fn', id, spec });
      this.outbox.post(
        '',
        {
          t: 'submit',
          task: {
            key,
            fn: id,
            deps: [...deps],
            priority: opts.priority,
            retries: opts.retries,
            workers: opts.workers,
            resources: opts.resources,
            fp,
            ranks: opts.ranks,
            nf: frames.length,
          },
        },
        frames,
      );
    }
    return future;
  }

  /** One task per element; several iterables are zipped (stops at the shortest). */
  map<F extends TaskFunction>(fn: F, ...iterables: MapArgs<F>): Future<Ret<F>>[] {
    return this.mapWith({}, fn, ...iterables);
  }

  /** `map` with options for every task (a `key` option becomes a prefix; `ranks`: gang tasks). */
  mapWith<F extends GangFunction>(
    options: TaskOptions & { ranks: number },
    fn: F,
    ...iterables: GangMapArgs<F>
  ): Future<Ret<F>[]>[];
  mapWith<F extends TaskFunction>(
    options: TaskOptions,
    fn: F,
    ...iterables: MapArgs<F>
  ): Future<Ret<F>>[];
  mapWith(options: TaskOptions, fn: TaskFunction, ...iterables: unknown[]): Future<unknown>[] {
    const its = iterables as unknown as Iterable<unknown>[];
    if (its.length === 0) throw new OptionError('map needs at least one iterable of arguments');
    its.forEach((it, i) => {
      const ok =
        typeof it === 'string' || (typeof it === 'object' && it !== null && Symbol.iterator in it);
      if (!ok) {
        throw new OptionError(
          `map: argument ${i + 2} must be an iterable (an array, a Set, a generator), got ${it === null ? 'null' : typeof it}; for one task use submit()`,
        );
      }
    });
    const { key, ...rest } = options;
    const columns = its.map((it) => Array.from(it));
    const n = columns.reduce((m, c) => Math.min(m, c.length), Infinity);
    if (key === undefined && rest.pure !== true && !isMpiProgram(fn) && isScalarArgs(columns, n)) {
      return this.mapScalars(rest, fn, columns, n);
    }
    return zip(columns).map((args, i) =>
      this.submitWith({ ...rest, key: key ? `${key}-${i}` : undefined }, fn, ...(args as never[])),
    );
  }

  /** A map of scalar arguments: futures now, the submits packed as they are sent (map-submits.ts). */
  private mapScalars(
    options: TaskOptions,
    fn: TaskFunction,
    columns: unknown[][],
    n: number,
  ): Future<unknown>[] {
    if (n === 0) return []; // as a map of no tasks always was: nothing checked, nothing sent
    this.checkOpen();
    const opts = validateTaskOptions(options);
    const { id, spec } = fnSpecOf(fn);
    const { prefix, keys } = mapKeys(fnName(fn), n);
    const states = this.keys.addBatch(prefix, keys);
    const futures = new Array<Future>(n);
    for (let i = 0; i < n; i++) futures[i] = this.futureOf(states[i]);
    if (!this.defined.use(id, true)) this.outbox.post('', { t: 'define-fn', id, spec });
    this.outbox.postSource('', new MapSubmits(keys, columns, id, opts));
    return futures;
  }

  /** Values of delayed nodes (src/graph), in arrays and plain objects too; several give an array. */
  compute<T>(value: T): Promise<Computed<T>>;
  compute<T extends unknown[]>(...values: T): Promise<Computed<T>>;
  compute(...values: unknown[]): Promise<unknown> {
    return computeGraph(values.length === 1 ? values[0] : values, { client: this });
  }

  /** Submits delayed nodes' graph at once; their futures, in the same shape (Dask's persist). */
  persist<T>(value: T): Persisted<T>;
  persist<T extends unknown[]>(...values: T): Persisted<T>;
  persist(...values: unknown[]): unknown {
    return persistGraph(values.length === 1 ? values[0] : values, { client: this });
  }

  /** Results of futures, also inside nested arrays and plain objects, in the same shape. */
  /** `progress(futures, options)`: bars on a terminal, a line every few seconds otherwise. */
  progress(...args: Parameters<typeof progress>): Promise<void> {
    return progress(...args);
  }

  /** Runs `fn` and writes a self-contained HTML report of it (the dashboard, recorded). */
  performanceReport<T>(file: string, fn: () => Promise<T>): Promise<T> {
    return performanceReport(file, fn, this);
  }

  async gather<T>(futures: T): Promise<Gathered<T>> {
    const fs = collectFutures(futures);
    const values = await this.fetchResults(fs.map((f) => f.key));
    return substitute(futures, values) as Gathered<T>;
  }

  /**
   * Places data on workers and returns futures that tasks can take as arguments. An array gives
   * one future per element (wrap it, `[arr]`, to scatter it whole); `broadcast` puts a copy on
   * every worker.
   */
  async scatter<T>(data: T[], options?: ScatterOptions): Promise<Future<T>[]>;
  async scatter<T>(data: T, options?: ScatterOptions): Promise<Future<T>>;
  async scatter(data: unknown, options: ScatterOptions = {}): Promise<Future | Future[]> {
    this.checkOpen();
    const info = await this.schedulerInfo();
    let targets = Object.values(info.workers);
    if (options.workers)
      targets = targets.filter((w) =>
        options.workers!.some((x) => x === w.id || x === w.name || x === w.host),
      );
    if (targets.length === 0)
      throw new ClusterError(
        'ERR_WORKER_LOST',
        'scatter: no worker to hold the data (none matches or none is connected)',
      );
    const list = Array.isArray(data);
    const items = list ? data : [data];
    const futures: Future[] = [];
    const keys: string[] = [];
    const holders: string[][] = [];
    const sizes: number[] = [];
    await Promise.all(
      items.map(async (item, i) => {
        const frames = pack(item);
        const key = `scatter-${randomUUID()}`;
        const dest = options.broadcast ? targets : [targets[i % targets.length]];
        await Promise.all(
          dest.map((w) =>
            this.peers.request(
              w.address,
              { t: 'put-data', req: 0, key, nf: frames.length },
              frames,
            ),
          ),
        );
        keys[i] = key;
        holders[i] = dest.map((w) => w.id);
        sizes[i] = packedBytes(frames);
      }),
    );
    for (let i = 0; i < items.length; i++) {
      futures.push(this.track(keys[i]));
      this.outbox.post('', {
        t: 'scattered',
        keys: [keys[i]],
        workers: holders[i],
        nbytes: [sizes[i]],
      });
    }
    return list ? futures : futures[0];
  }

  /** Waits until all (or the first, or the first failed) of the futures are done. */
  async wait(
    futures: Future[],
    options: {
      /** ms, or a string with its unit ('5s'). */
      timeout?: number | string;
      returnWhen?: 'ALL_COMPLETED' | 'FIRST_COMPLETED' | 'FIRST_EXCEPTION';
    } = {},
  ): Promise<{ done: Set<Future>; notDone: Set<Future> }> {
    const when = options.returnWhen ?? 'ALL_COMPLETED';
    if (!['ALL_COMPLETED', 'FIRST_COMPLETED', 'FIRST_EXCEPTION'].includes(when)) {
      throw new OptionError(
        `returnWhen must be ALL_COMPLETED, FIRST_COMPLETED or FIRST_EXCEPTION, got ${when}`,
      );
    }
    const timeout =
      options.timeout === undefined
        ? undefined
        : parseDuration(options.timeout, { name: 'wait: timeout', unit: 'ms' });
    const settled = futures.map((f) => this.whenSettled(f.key).then(() => f));
    let all: Promise<unknown>;
    if (when === 'ALL_COMPLETED') all = Promise.all(settled);
    else if (when === 'FIRST_COMPLETED')
      all = futures.length ? Promise.race(settled) : Promise.resolve();
    else {
      all = new Promise<void>((resolve) => {
        let left = futures.length;
        if (left === 0) resolve();
        for (const p of settled)
          void p.then((f) => (f.status === 'error' || --left === 0 ? resolve() : undefined));
      });
    }
    await withTimeout(all, timeout, () => `wait: futures not done after ${timeout} ms`);
    const done = new Set(futures.filter((f) => f.done()));
    return { done, notDone: new Set(futures.filter((f) => !done.has(f))) };
  }

  /** Yields futures as they complete. */
  async *asCompleted(futures: Iterable<Future>): AsyncGenerator<Future> {
    const queue: Future[] = [];
    let wake: (() => void) | null = null;
    let left = 0;
    for (const f of futures) {
      left++;
      void this.whenSettled(f.key).then(() => {
        queue.push(f);
        wake?.();
      });
    }
    while (left > 0) {
      if (queue.length === 0) await new Promise<void>((r) => (wake = r));
      wake = null;
      while (queue.length > 0) {
        left--;
        yield queue.shift()!;
      }
    }
  }

  /** Resolves once at least `n` workers are connected. */
  async waitForWorkers(
    n: number,
    options: { timeout?: number | string } | number = {},
  ): Promise<void> {
    if (!Number.isInteger(n) || n < 0)
      throw new OptionError(`waitForWorkers(n): n must be a non-negative integer, got ${n}`);
    // waitForWorkers(4, 10000) as in Dask: a number is the timeout in ms.
    if (typeof options === 'number') options = { timeout: options };
    const t =
      options.timeout === undefined
        ? undefined
        : parseDuration(options.timeout, { name: 'waitForWorkers: timeout', unit: 'ms' });
    let waiter: (() => void) | undefined;
    let gaveUp = false;
    const reached = (async () => {
      while (this.nWorkers < n && !gaveUp) {
        this.checkOpen();
        await new Promise<void>((r) => {
          waiter = r;
          this.workerWaiters.push(r);
          this.wake();
        });
      }
    })();
    await withTimeout(
      reached,
      t,
      () => `only ${this.nWorkers} of ${n} workers connected after ${t} ms`,
    ).catch((err: Error) => {
      gaveUp = true;
      const i = this.workerWaiters.indexOf(waiter!);
      if (i >= 0) this.workerWaiters.splice(i, 1);
      // A read may still be pending: a heartbeat's echo ends it, so the client goes idle.
      if (this.demand() === 0) this.outbox.post('', { t: 'heartbeat' });
      throw err;
    });
  }

  /** The scheduler's address, id and workers. */
  async schedulerInfo(): Promise<SchedulerInfo> {
    const reply = await this.request({ t: 'info', req: 0 });
    return (reply as { info: SchedulerInfo }).info;
  }

  /** Where each future's data is held: the addresses of its workers, by key (Dask's who_has). */
  async whoHas(futures: Iterable<Future>): Promise<Record<string, string[]>> {
    const keys = Array.from(futures, (f) => {
      if (!(f instanceof Future)) throw new OptionError('whoHas takes futures of this client');
      return f.key;
    });
    const reply = await this.request({ t: 'who-has', req: 0, keys });
    return (reply as { who: Record<string, string[]> }).who;
  }

  /**
   * Moves held data between workers until each holds about the same bytes (Dask's `rebalance`):
   * a worker above the mean gives its largest keys to the workers holding least, which copy them
   * before it frees them. With `futures`, only their data moves. Resolves once the moves are
   * done, with how many keys moved and their bytes.
   */
  async rebalance(futures?: Iterable<Future>): Promise<{ moved: number; bytes: number }> {
    const keys =
      futures === undefined
        ? undefined
        : Array.from(futures, (f) => {
            if (!(f instanceof Future))
              throw new OptionError('rebalance takes futures of this client');
            return f.key;
          });
    const reply = await this.request({ t: 'rebalance', req: 0, ...(keys ? { keys } : {}) });
    const { moved, bytes } = reply as { moved: number; bytes: number };
    return { moved, bytes };
  }

  async cancelKeys(keys: string[]): Promise<void> {
    this.checkOpen();
    this.outbox.post('', { t: 'cancel', keys });
    await this.allSettled(keys);
  }

  /** Stops the scheduler and its workers, then closes this client. */
  async shutdown(): Promise<void> {
    if (!this.closedReason) {
      this.outbox.post('', { t: 'shutdown' });
      await this.outbox.drained();
    }
    await this.close();
  }

  /** Closes this client only (and a LocalCluster it started). */
  async close(): Promise<void> {
    if (!this.closedReason) {
      this.outbox.post('', { t: 'bye' });
      await this.outbox.drained();
      this.markClosed('client closed');
    }
    await this.teardown();
  }

  private async teardown(): Promise<void> {
    clearInterval(this.heartbeat);
    clearInterval(this.idleDrain);
    this.markClosed(this.closedReason ?? 'client closed');
    this.peers.close();
    this.outbox.close();
    if (!this.socket.closed) this.socket.close();
    this.leaveScriptEnd?.();
    this.leaveScriptEnd = null;
    const owned = this.owned;
    this.owned = null;
    if (owned) await owned.close();
  }
}

/** `Client.connect(target)`: see there. */
export function connect(target?: ConnectTarget): Promise<Client> {
  return Client.connect(target);
}
