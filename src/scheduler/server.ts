import { randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type * as zmq from 'zeromq';
import { log } from '../log';
import {
  Outbox,
  bindEndpoint,
  boundEndpoint,
  hostFor,
  makeKeys,
  parseKeys,
  router,
  rememberKeys,
  secureServer,
  warnInsecure,
  type ClusterKeys,
  type Security,
} from '../net';
import {
  decode,
  type Envelope,
  type FnSpec,
  type SchedulerInfo,
  type WorkerInfo,
} from '../protocol';
import { removeSchedulerFile, writeSchedulerFile } from '../cluster/scheduler-file';
import { FN_CACHE_SIZE, Lru } from '../util/lru';
import { InvariantError } from '../errors';
import { sameOrNew } from '../protocol/schema';
import { SchedulerCore } from './core';
import { COORD_HOLDER, Coordination, type CoordStep } from './coordination';
import { SchedulerHttp, parseDashboardAddress, type DashboardAddress } from '../observe/http';
import type { SchedulerMetrics } from '../observe/metrics';
import { Dashboard, type WorkerStats } from '../observe/dashboard';
import { memoryFigures } from './memory';
import { packageVersion } from '../util/version';
import { ProfileRequests } from '../observe/profile-requests';
import {
  clientEvent,
  memoryReport,
  rebalanceRequest,
  submitted,
  workerEvent,
  workerJoin,
} from './peer-events';
import type { SchedulerAction, SchedulerConfig, SchedulerEvent } from './types';

/** The exit code of a process whose scheduler stopped on a broken invariant (EX_SOFTWARE). */
export const FATAL_EXIT_CODE = 70;

export interface SchedulerOptions extends Partial<SchedulerConfig> {
  /** Network interface to bind on (e.g. 'ib0'). */
  interface?: string;
  /** Explicit host/IP to bind on; wins over `interface`. */
  host?: string;
  /** Bind on loopback (local clusters). */
  local?: boolean;
  /** Port; 0 or absent lets the OS choose. */
  port?: number;
  /** Write the scheduler file here (JSON, mode 0600, with the keys), removed at exit. */
  schedulerFile?: string;
  /**
   * The cluster's CurveZMQ keys; absent: new ones are made. `false` turns security off (anyone
   * who reaches the port can run code as you), with a warning.
   */
  security?: Security;
  /** How often the core's clock ticks (ms). */
  tickInterval?: number;
  /**
   * The HTTP server for the dashboard, /metrics and /health: ':8787' (Dask's port, on the
   * scheduler's host; a free one if it is taken), 'host:port', a port, or false for none.
   */
  dashboardAddress?: DashboardAddress;
  /**
   * Called once the scheduler has stopped on a broken invariant (a bug; its state cannot be
   * trusted): the CLI exits non-zero. Clients and workers have been told already.
   */
  onFatal?: (err: Error) => void;
}

/** What the scheduler keeps of a task: its function and the packed arguments. */
export interface Payload {
  fn: string;
  spec: FnSpec;
  frames: Buffer[];
}

/**
 * Function definitions are cached per connection with a bound (FN_CACHE_SIZE, least recently
 * used out), each side in step with the other: a client's definitions here mirror its `defined`,
 * and `fns` of a worker mirrors what that worker still holds. A task keeps its own spec.
 */
type Peer = {
  name: string;
  /** It left by itself (bye, or its connection closed). */ left?: boolean;
} & ({ kind: 'client'; fns: Lru<string, FnSpec> } | { kind: 'worker'; fns: Lru<string, true> });

/** The receive loop gives the event loop a turn after this much work (ms). */
const SLICE_MS = 20;
/** How long a closing scheduler waits for its last messages to leave (ms). */
const CLOSE_DRAIN_MS = 2000;
/**
 * Every peer gets a heartbeat this often (ms): a send to a peer whose process died fails
 * (EHOSTUNREACH), so a dead worker or client is removed within about this long, while the TTLs
 * (minutes) cover hosts that went silent without closing their connections.
 */
const PROBE_MS = 1000;

/** The scheduler process: a ROUTER socket and a timer around the pure SchedulerCore. */
export class Scheduler {
  readonly id = `s-${randomUUID()}`;
  readonly started = Date.now();
  readonly core: SchedulerCore<Payload>;
  /** Variables, Queues, Events, Locks, Semaphores and datasets (issue 22), beside the core. */
  readonly coordination: Coordination<Payload>;
  /** For clients in this same process. */
  readonly inprocAddress = `inproc://mpi-cluster-${this.id}`;
  private readonly peers = new Map<string, Peer>();
  private readonly outbox: Outbox;
  private ticker: NodeJS.Timeout | undefined;
  private prober: NodeJS.Timeout | undefined;
  /** Unknown peers already told that they are not (or no longer) part of this cluster. */
  private readonly toldUnknown = new Lru<string, true>(FN_CACHE_SIZE);
  private retireWaiters: { ids: Set<string>; resolve: () => void }[] = [];
  private closing = false;
  private workerWaiters: { n: number; resolve: () => void; cancel: (why: string) => void }[] = [];
  private resolveClosed!: () => void;
  private http: SchedulerHttp | null = null;
  private metrics: SchedulerMetrics | null = null;
  private dashboard: Dashboard | null = null;
  /** CPU, resident memory and bytes fetched that each worker last reported in its heartbeat. */
  private readonly stats = new Map<string, WorkerStats>();
  private readonly profiles = new ProfileRequests();
  /** Resolves once the scheduler has shut down (by a client's request or `close()`). */
  readonly closed = new Promise<void>((r) => (this.resolveClosed = r));

  private constructor(
    private readonly socket: zmq.Router,
    readonly address: string,
    private readonly options: SchedulerOptions,
    /** The cluster's keys (null: security off); workers and clients need them to get in. */
    readonly keys: ClusterKeys | null,
    private readonly unsecure: () => void,
  ) {
    this.core = new SchedulerCore<Payload>(options);
    this.coordination = new Coordination(this.core.tasks);
    this.outbox = new Outbox(socket, true, 'scheduler', (peer) => this.peerGone(peer));
  }

  static async start(options: SchedulerOptions = {}): Promise<Scheduler> {
    const host = hostFor(options);
    const httpAt = parseDashboardAddress(options.dashboardAddress, host);
    const keys =
      options.security === false
        ? null
        : options.security === undefined
          ? makeKeys()
          : parseKeys(options.security, 'the security option');
    if (!keys) warnInsecure('scheduler');
    const socket = router();
    const unsecure = keys ? await secureServer(socket, keys) : () => {};
    try {
      await socket.bind(bindEndpoint(host, options.port));
    } catch (err) {
      socket.close();
      unsecure();
      throw Object.assign(
        new Error(
          `scheduler cannot bind ${host}:${options.port ?? '*'}: ${(err as Error).message}`,
        ),
        { code: 'ERR_BIND' },
      );
    }
    let forget = () => {};
    const s = new Scheduler(socket, boundEndpoint(socket), options, keys, () => {
      unsecure();
      forget();
    });
    // A client in this process may connect by address alone: it finds the keys here.
    forget = rememberKeys([s.address, s.inprocAddress], keys);
    // A client in this process (LocalCluster) talks over inproc: a tenth of TCP's round trip.
    await socket.bind(s.inprocAddress);
    if (httpAt) await s.startHttp(httpAt);
    if (options.schedulerFile) {
      try {
        writeSchedulerFile(options.schedulerFile, {
          address: s.address,
          id: s.id,
          started: s.started,
          ...(keys ? { keys } : {}),
          ...(s.http ? { metrics: s.http.link, dashboard: s.http.dashboardLink } : {}),
        });
      } catch (err) {
        socket.close();
        unsecure();
        s.metrics?.close();
        s.dashboard?.close();
        await s.http?.close();
        throw err;
      }
    }
    s.ticker = setInterval(() => {
      const now = Date.now();
      s.runSafely([{ type: 'tick', now }], 'tick');
      s.coordinate(s.coordination.tick(now));
    }, options.tickInterval ?? 250);
    s.prober = setInterval(() => {
      for (const id of s.peers.keys()) s.outbox.post(id, { t: 'heartbeat' });
    }, PROBE_MS);
    // The socket's pending read keeps a scheduler process alive; in a script, a cluster's
    // scheduler must not (cluster/script-end.ts).
    s.ticker.unref();
    s.prober.unref();
    void s.receive();
    log.member(`scheduler at ${s.address}`);
    return s;
  }

  /**
   * Reads messages one at a time (each at most MAX_OPS_PER_MESSAGE ops from our own peers) and
   * gives the event loop a turn every SLICE_MS, so a million-task submit arrives as a stream of
   * short steps with timers and heartbeats in between.
   */
  private async receive(): Promise<void> {
    let sliceStart = performance.now();
    try {
      for await (const parts of this.socket) {
        this.onMessage(parts);
        if (performance.now() - sliceStart > SLICE_MS) {
          await nextTurn();
          sliceStart = performance.now();
        }
      }
    } catch (err) {
      if (!this.closing) log.error(`scheduler: receive loop failed: ${(err as Error).message}`);
    }
  }

  private onMessage(parts: Buffer[]): void {
    const peer = parts[0].toString('latin1');
    let envs: Envelope[];
    try {
      envs = decode(parts.slice(1));
    } catch (err) {
      log.warnOften(
        'scheduler malformed',
        `scheduler: dropped malformed message from ${JSON.stringify(peer)}: ${(err as Error).message}`,
      );
      return;
    }
    const events: SchedulerEvent<Payload>[] = [];
    try {
      for (const env of envs) this.dispatch(peer, env, events);
      if (events.length > 0) this.run(events);
    } catch (err) {
      const types = envs
        .map((e) => e.op.t)
        .join(',')
        .slice(0, 200);
      this.failed(err as Error, `${types} from ${JSON.stringify(peer)}`, keyOf(envs));
    }
  }

  /** Runs events that no peer's message brought (timers, exits): a throw is handled alike. */
  private runSafely(events: SchedulerEvent<Payload>[], what: string): void {
    try {
      this.run(events);
    } catch (err) {
      this.failed(err as Error, what, null);
    }
  }

  /** A throw while handling: logged with the key's story and dropped, or fatal if a bug. */
  private failed(err: Error, what: string, key: string | null): void {
    if (err instanceof InvariantError) return this.fatal(err);
    const story = key
      ? `; story of ${key}: ${this.core
          .story(key)
          .slice(-10)
          .map((t) => `${t.from}->${t.to} (${t.cause})`)
          .join('; ')}`
      : '';
    log.error(`scheduler: handling ${what} failed (dropped, serving on): ${err.stack}${story}`);
  }

  /**
   * A broken invariant: the core's state cannot be trusted, so the scheduler stops loudly rather
   * than serve wrong answers; every peer is told at once (clients' futures err
   * ERR_SCHEDULER_GONE), then `onFatal` ends the process.
   */
  private fatal(err: Error): void {
    log.error(`scheduler: internal error, stopping: ${err.message}`);
    void this.close(`internal error: ${err.message.slice(0, 300)}`).then(() =>
      this.options.onFatal?.(err),
    );
  }

  /** A peer whose connection is gone: removed now, not after its TTL. */
  private peerGone(peer: string): void {
    const known = this.peers.get(peer);
    if (!known) return;
    known.left = true;
    this.leftWaiter?.();
    if (this.closing) return;
    const reason = 'connection gone (its process exited or its network closed)';
    if (known.kind === 'worker') {
      this.runSafely([{ type: 'worker-leave', worker: peer, reason }], 'a lost worker');
    } else this.runSafely([{ type: 'client-leave', client: peer, reason }], 'a lost client');
  }

  private dispatch(
    peer: string,
    { op, frames }: Envelope,
    events: SchedulerEvent<Payload>[],
  ): void {
    const now = Date.now();
    const known = this.peers.get(peer);
    if (op.t === 'hello-client') {
      if (known?.kind !== 'client') {
        this.peers.set(peer, { kind: 'client', name: op.name, fns: new Lru(FN_CACHE_SIZE) });
        this.note(`client ${op.name} (${peer}) joined`);
      }
      events.push({ type: 'client-join', client: peer, now });
      this.outbox.post(peer, {
        t: 'welcome',
        schedulerId: this.id,
        address: this.address,
        nWorkers: this.core.workers.size,
        // The /metrics link with its token: clients are members, the token is theirs to see.
        ...(this.http ? { http: this.http.link, dashboard: this.http.dashboardLink } : {}),
      });
      return;
    }
    if (op.t === 'register') {
      if (op.worker.id !== peer) {
        log.warn(`scheduler: worker registered as ${op.worker.id} from socket ${peer}; dropped`);
        return;
      }
      const w = op.worker;
      this.peers.set(peer, { kind: 'worker', name: w.name, fns: new Lru(FN_CACHE_SIZE) });
      this.note(
        `worker ${w.name} (${peer}) joined from ${w.host} at ${w.address}, ${w.nthreads} threads`,
      );
      events.push(workerJoin(w, now));
      this.outbox.post(peer, { t: 'registered', schedulerId: this.id });
      return;
    }
    if (!known) {
      log.debug(`scheduler: ${op.t} from unknown peer ${JSON.stringify(peer)} dropped`);
      // A peer removed earlier (or one that never said hello) learns it once, and stops.
      if (op.t !== 'bye' && !this.toldUnknown.use(peer, true)) {
        this.outbox.post(peer, {
          t: 'closing',
          reason:
            'removed: this scheduler does not know this peer (removed earlier, or never registered)',
          code: 'ERR_REMOVED',
        });
      }
      return;
    }
    if (known.kind === 'client') {
      events.push({ type: 'client-seen', client: peer, now });
      switch (op.t) {
        case 'define-fn':
          // An id names one function for good: other code under it is refused.
          if (sameOrNew(known.fns.get(op.id), op.spec)) known.fns.set(op.id, op.spec);
          else
            log.warnOften(
              'redefine',
              `scheduler: client ${peer} redefined function ${op.id}; refused`,
            );
          return;
        case 'submit': {
          const t = op.task;
          const spec = known.fns.get(t.fn);
          if (!spec) {
            log.warn(`scheduler: task ${t.key} names undefined function ${t.fn}; refused`);
            this.outbox.post(peer, {
              t: 'key-erred',
              key: t.key,
              error: {
                name: 'ProtocolError',
                code: 'ERR_PROTOCOL',
                message: `task ${t.key} names function ${t.fn}, which this client never defined`,
              },
            });
            return;
          }
          events.push(submitted(peer, t, spec, frames));
          return;
        }
        case 'who-has': {
          this.runFirst(events);
          const who: Record<string, string[]> = {};
          for (const key of op.keys) {
            const ts = this.core.tasks.get(key);
            who[key] = ts ? Array.from(ts.who, (w) => this.core.workers.get(w)!.info.address) : [];
          }
          this.outbox.post(peer, { t: 'who-has-reply', req: op.req, who });
          return;
        }
        case 'info':
          this.runFirst(events);
          this.outbox.post(peer, { t: 'info-reply', req: op.req, info: this.info() });
          return;
        case 'rebalance':
          events.push(rebalanceRequest(peer, op, now));
          return;
        case 'heartbeat':
          this.outbox.post(peer, { t: 'heartbeat' });
          return;
        case 'coord':
          this.runFirst(events);
          this.coordinate(this.coordination.request(peer, op, frames, now));
          return;
        case 'want-keys':
          this.runFirst(events);
          this.coordinate(this.coordination.want(peer, op.keys, now));
          return;
        case 'shutdown':
          void this.close('shutdown requested by a client');
          return;
        default: {
          const ev = clientEvent(peer, op);
          if (!ev) break;
          if (op.t === 'bye') known.left = true;
          events.push(ev);
          return;
        }
      }
    } else {
      events.push({ type: 'worker-seen', worker: peer, now });
      if (op.t === 'heartbeat') {
        if (op.cpu !== undefined && op.rss !== undefined) {
          this.stats.set(peer, {
            cpu: op.cpu,
            rss: op.rss,
            lag: op.lag ?? 0,
            transferBytes: op.transferBytes ?? 0,
          });
        }
        if (op.xfer && op.xfer.length > 0) this.dashboard?.transfers(peer, op.xfer);
        const memory = memoryReport(peer, op);
        if (memory) events.push(memory);
        this.outbox.post(peer, { t: 'heartbeat' });
        return;
      }
      if (op.t === 'profile-data') {
        if (!this.profiles.answer(peer, op.req, op.tree))
          log.warnOften(
            'profile-data',
            `scheduler: a malformed or unasked profile from ${peer} dropped`,
          );
        return;
      }
      const ev = workerEvent(peer, { op, frames });
      if (ev) {
        if (op.t === 'task-finished' || op.t === 'task-erred')
          this.dashboard?.taskDone(peer, op.key, op.duration, op.t === 'task-erred');
        if (op.t === 'task-erred')
          this.dashboard?.event(`task ${op.key} erred on ${known.name}: ${op.error.message}`);
        if (op.t === 'retire')
          log.info(`scheduler: worker ${known.name} asks to retire (its lifetime is up)`);
        if (op.t === 'bye') {
          known.left = true;
          this.leftWaiter?.();
        }
        events.push(ev);
        return;
      }
    }
    log.debug(`scheduler: unexpected ${op.t} from ${known.kind} ${peer} dropped`);
  }

  /**
   * Applies the events of a message that came before a request answered at once (who-has, info),
   * so the answer sees them: a scatter's `scattered` followed by `info` in one message. A throw
   * drops those events only; the request is still answered.
   */
  private runFirst(events: SchedulerEvent<Payload>[]): void {
    if (events.length === 0) return;
    const before = events.splice(0);
    try {
      this.run(before);
    } catch (err) {
      const types = before.map((e) => e.type).join(',');
      this.failed(err as Error, types.slice(0, 200), null);
    }
  }

  private run(events: SchedulerEvent<Payload>[]): void {
    if (this.closing) return;
    for (const a of this.core.handle(events)) this.carryOut(a);
    if (this.retireWaiters.length > 0) {
      const ws = this.core.workers;
      this.retireWaiters = this.retireWaiters.filter((r) => {
        const gone = [...r.ids].every((id) => !ws.has(id));
        if (gone) r.resolve();
        return !gone;
      });
    }
    if (this.workerWaiters.length > 0) {
      const n = this.core.workers.size;
      this.workerWaiters = this.workerWaiters.filter((w) => !(n >= w.n && (w.resolve(), true)));
    }
  }

  /** Removes a worker known to be dead (its process exited) without waiting for its heartbeat. */
  workerExited(pid: number, reason: string): void {
    for (const w of this.core.workers.values()) {
      if (w.info.pid === pid) {
        this.runSafely([{ type: 'worker-leave', worker: w.id, reason }], 'a worker exit');
      }
    }
  }

  /**
   * Retires workers gracefully: they get no new tasks, finish what they run, their data is copied
   * to workers that stay, then they are told to close. Resolves once all of them are gone.
   */
  retireWorkers(ids: string[]): Promise<void> {
    const live = new Set(ids.filter((id) => this.core.workers.has(id)));
    if (live.size === 0) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.retireWaiters.push({ ids: live, resolve }));
    this.runSafely([{ type: 'retire-workers', workers: [...live] }], 'retire-workers');
    return done;
  }

  /** Resolves once `n` workers are registered; rejects after `timeout` ms. */
  waitForWorkers(n: number, timeout: number): Promise<void> {
    if (this.core.workers.size >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.workerWaiters = this.workerWaiters.filter((w) => w.resolve !== done);
        reject(
          Object.assign(
            new Error(
              `only ${this.core.workers.size} of ${n} workers registered after ${timeout} ms`,
            ),
            { code: 'ERR_TIMEOUT' },
          ),
        );
      }, timeout);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      // A close ends the wait (and its timer, which would keep the process alive).
      const cancel = (why: string) => {
        clearTimeout(timer);
        reject(
          Object.assign(new Error(`${why} while waiting for ${n} workers`), {
            code: 'ERR_SCHEDULER_GONE',
          }),
        );
      };
      this.workerWaiters.push({ n, resolve: done, cancel });
    });
  }

  /** Carries out a coordination step: its replies first, then its core events (wants, releases). */
  private coordinate(step: CoordStep<Payload>): void {
    for (const m of step.messages) {
      if (this.peers.get(m.client)?.kind === 'client') this.outbox.post(m.client, m.op, m.frames);
    }
    if (step.events.length > 0) this.runSafely(step.events, 'coordination');
  }

  private carryOut(a: SchedulerAction<Payload>): void {
    // The coordination's pseudo-client is no peer: nothing is sent to it. A key it wants that
    // ended may be one fired and forgotten, which it lets go now.
    if ('client' in a && a.client === COORD_HOLDER) {
      if (a.type === 'key-done' || a.type === 'key-erred') {
        this.coordinate(this.coordination.settled(a.key, Date.now()));
      }
      return;
    }
    switch (a.type) {
      case 'compute': {
        const peer = this.peers.get(a.worker);
        if (peer?.kind === 'worker' && !peer.fns.use(a.payload.fn, true)) {
          this.outbox.post(a.worker, { t: 'define-fn', id: a.payload.fn, spec: a.payload.spec });
        }
        const deps = a.deps;
        const frames = a.payload.frames;
        this.outbox.post(
          a.worker,
          {
            t: 'compute',
            key: a.key,
            fn: a.payload.fn,
            deps,
            nf: frames.length,
            ...(a.gang ? { gang: a.gang } : {}),
          },
          frames,
        );
        return;
      }
      case 'free-keys':
        return this.outbox.postKeys(a.worker, 'free-keys', a.keys);
      case 'cancel-compute':
        return this.outbox.post(a.worker, { t: 'cancel-compute', keys: a.keys });
      case 'acquire-replicas':
        return this.outbox.post(a.worker, { t: 'acquire-replicas', deps: a.deps });
      case 'rebalanced':
        if (this.peers.get(a.client)?.kind !== 'client') return;
        return this.outbox.post(a.client, {
          t: 'rebalance-reply',
          req: a.req,
          moved: a.moved,
          bytes: a.bytes,
        });
      case 'key-done': {
        const frames = a.inline ?? [];
        return this.outbox.post(
          a.client,
          { t: 'key-done', key: a.key, who: a.who, nbytes: a.nbytes, nf: frames.length },
          frames,
        );
      }
      case 'key-erred':
        return this.outbox.post(a.client, { t: 'key-erred', key: a.key, error: a.error });
      case 'key-cancelled':
        return this.outbox.post(a.client, { t: 'key-cancelled', key: a.key });
      case 'key-lost':
        return this.outbox.post(a.client, { t: 'key-lost', key: a.key });
      case 'worker-removed':
        return this.dropPeer('worker', a.worker, a.reason);
      case 'client-removed':
        this.dropPeer('client', a.client, a.reason);
        // Its waits end; its Locks and Semaphore leases go to the next in line.
        return this.coordinate(this.coordination.clientLeft(a.client, Date.now()));
      case 'n-workers':
        for (const [id, p] of this.peers)
          if (p.kind === 'client') this.outbox.post(id, { t: 'n-workers', n: a.n });
        return;
      case 'unrunnable': {
        log.warnOften('unrunnable', `scheduler: ${a.message}`);
        this.dashboard?.event(a.message);
        const { key, message, workers, resources } = a;
        for (const c of a.clients) {
          if (c === COORD_HOLDER) continue;
          this.outbox.post(c, { t: 'task-unrunnable', key, message, workers, resources });
        }
        return;
      }
    }
  }

  /** Logs a peer's leaving with the reason; one the scheduler removed is told so, and stops. */
  private dropPeer(kind: Peer['kind'], id: string, reason: string): void {
    const peer = this.peers.get(id);
    this.note(`${kind} ${peer?.name ?? '?'} (${id}) left: ${reason}`);
    this.stats.delete(id);
    this.profiles.workerGone(id);
    this.dashboard?.workerGone(id);
    if (peer && !peer.left) {
      this.outbox.post(id, { t: 'closing', reason: `removed: ${reason}`, code: 'ERR_REMOVED' });
    }
    this.peers.delete(id);
  }

  info(): SchedulerInfo {
    const workers: Record<string, WorkerInfo> = {};
    for (const w of this.core.workers.values()) {
      workers[w.id] = {
        ...w.info,
        lastSeen: w.lastSeen,
        processing: w.processing.size,
        inMemory: w.has.size,
        nbytes: w.nbytes,
        ...memoryFigures(w),
      };
    }
    return {
      address: this.address,
      id: this.id,
      started: this.started,
      workers,
      tasks: this.core.counts(),
    };
  }

  private leftWaiter: (() => void) | null = null;

  /** Resolves once no registered worker is left (each said bye or its connection went), or after `ms`. */
  private workersGone(ms: number): Promise<void> {
    const remaining = () => [...this.peers.values()].some((p) => p.kind === 'worker' && !p.left);
    if (ms <= 0 || !remaining()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.leftWaiter = () => {
        if (remaining()) return;
        this.leftWaiter = null;
        done();
      };
    });
  }

  /** Removes the scheduler file, if this scheduler wrote one and it is still its own. */
  removeFile(): void {
    if (this.options.schedulerFile) removeSchedulerFile(this.options.schedulerFile, this.id);
  }

  /** A dashboard that cannot start is a warning, not a scheduler that does not start. */
  private async startHttp(at: { host: string; port: number }): Promise<void> {
    // prom-client and the registry load at the first scrape of /metrics, not on a job's way to
    // its first task (issue 23: a quarter of the modules every rank loaded).
    const metrics = () =>
      (this.metrics ??= new (
        require('../observe/metrics') as typeof import('../observe/metrics')
      ).SchedulerMetrics({
        core: this.core,
        workerStats: (id) => this.stats.get(id),
      }));
    const scraped = {
      text: () => metrics().text(),
      get contentType() {
        return metrics().contentType;
      },
    };
    const started = new Date().toISOString();
    const dashboard = new Dashboard({
      core: this.core,
      workerStats: (id) => this.stats.get(id),
      profile: (ms) =>
        this.profiles.start([...this.core.workers.keys()], ms, (w, req) =>
          this.outbox.post(w, { t: 'profile', req, ms }),
        ),
      info: () => ({
        facts: {
          version: packageVersion(),
          scheduler: this.id,
          address: this.address,
          started,
          node: process.versions.node,
          pid: process.pid,
          security: this.options.security === false ? 'off' : 'CurveZMQ',
        },
        // What was set, keys and callbacks left out.
        options: Object.fromEntries(
          Object.entries(this.options).filter(
            ([k, v]) => k !== 'security' && typeof v !== 'function',
          ),
        ),
      }),
    });
    try {
      this.http = await SchedulerHttp.start(at, scraped, dashboard);
      this.dashboard = dashboard;
      // Without the token: logs end up in batch output files others may read.
      log.member(
        `scheduler: dashboard at ${this.http.url}/status (its link with the token: client.dashboardLink)`,
      );
    } catch (err) {
      dashboard.close();
      log.warn(`scheduler: no HTTP server on ${at.host}:${at.port}: ${(err as Error).message}`);
    }
  }

  /** The /metrics link with its token (null without an HTTP server). */
  get metricsLink(): string | null {
    return this.http?.link ?? null;
  }

  /** The dashboard page's link with its token (null without an HTTP server). */
  get dashboardLink(): string | null {
    return this.http?.dashboardLink ?? null;
  }

  /** A worker or client joined or left: logged, and shown in the dashboard's last events. */
  private note(text: string): void {
    log.member(`scheduler: ${text}`);
    this.dashboard?.event(text);
  }

  /** The HTTP server's base URL and token (null without one). */
  get httpServer(): { url: string; token: string } | null {
    return this.http ? { url: this.http.url, token: this.http.token } : null;
  }

  /** Tells every worker and client that the cluster is closing, then stops. */
  async close(reason = 'scheduler closed'): Promise<void> {
    if (this.closing) return this.closed;
    this.closing = true;
    clearInterval(this.ticker);
    clearInterval(this.prober);
    for (const w of this.workerWaiters) w.cancel(`scheduler closed (${reason})`);
    this.workerWaiters = [];
    for (const id of this.peers.keys()) this.outbox.post(id, { t: 'closing', reason });
    // Sent is not received: the socket stays open until every worker has said goodbye (so each
    // got the notice and leaves now, not after its death timeout), for CLOSE_DRAIN_MS at most.
    const deadline = Date.now() + CLOSE_DRAIN_MS;
    await this.outbox.drained(CLOSE_DRAIN_MS);
    await this.workersGone(deadline - Date.now());
    this.removeFile();
    this.outbox.close();
    this.socket.close();
    this.unsecure();
    this.metrics?.close();
    this.dashboard?.close();
    await this.http?.close();
    this.resolveClosed();
  }
}

/** The key a message is about, to log its story when handling it failed. */
function keyOf(envs: Envelope[]): string | null {
  for (const { op } of envs) {
    if ('key' in op && typeof op.key === 'string') return op.key;
    if (op.t === 'submit') return op.task.key;
    if ('keys' in op && Array.isArray(op.keys) && typeof op.keys[0] === 'string') return op.keys[0];
  }
  return null;
}
