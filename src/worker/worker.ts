import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type * as zmq from 'zeromq';
import { log } from '../log';
import {
  Outbox,
  PeerPool,
  BulkServer,
  BULK_HELLO_MS,
  goesBulk,
  bindEndpoint,
  boundEndpoint,
  dealer,
  describeHostChoice,
  resolveSecurity,
  router,
  secureServer,
  workerHost,
  type ClusterKeys,
} from '../net';
import { decode, packedBytes, type Envelope, type FnSpec, type GangWire } from '../protocol';
import { createWorkerDirectory, defaultWorkerParent } from './directory';
import { MEMORY_EXIT, NANNY_ENV, resolveWorkerOptions, type WorkerOptions } from './options';
import { FN_CACHE_SIZE, Lru } from '../util/lru';
import { ThreadPool, type PoolResult, type PoolTask } from './pool';
import { HeldData, type Held } from './held';
import { InputLoader } from './inputs';
import { heapCapMb } from './memory';
import { sameOrNew } from '../protocol/schema';
import { WorkerState } from './state';
import type { WorkerAction, WorkerEvent } from './state-types';
import { GangRuntime } from './gang';

/** Results up to this size ride along with task-finished so clients get them in one hop. */
const INLINE_LIMIT = 16 * 1024;
/** How long one get-data may take before its holder counts as not having the keys (ms). */
const FETCH_TIMEOUT = 30_000;
/** A worker that hears nothing from its scheduler this long after starting says why, once (s). */
const UNREACHABLE_NOTICE_S = 5;
/** Fetches reported per heartbeat (start, end, bytes each); more are counted, not listed. */
const MAX_TRANSFERS_PER_BEAT = 200;
/** How long a worker whose lifetime is up waits for the scheduler to let it go (s). */
const LIFETIME_GRACE_S = 30;

/** What the state machine carries for a task, opaque to it. */
interface Payload {
  fn: string;
  /** Taken from the cache when the compute arrived (null: never defined here). */
  spec: FnSpec | null;
  args: Buffer[];
  /** A gang task's member (issue 21), and why this worker cannot be one when it cannot. */
  gang?: GangWire;
  gangError?: string;
}

type Event = WorkerEvent<Payload, Held>;
type Action = WorkerAction<Payload, Held>;

const toBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/**
 * A worker process: a DEALER to the scheduler, a ROUTER serving its stored results to peers and
 * clients, and a pool of executor threads. Every decision is the state machine's (./state.ts);
 * this class turns messages, fetch replies, thread results and timers into its events and
 * carries out its actions. Results are kept packed (as frames) and never deserialized here.
 */
/** The event-loop delay sampler's period (ms). */
const LOOP_RESOLUTION_MS = 20;
/** The longest profile the scheduler may ask for (ms). */
const MAX_PROFILE_MS = 30_000;

export class Worker {
  readonly id = `w-${randomUUID()}`;
  readonly name: string;
  readonly options: ReturnType<typeof resolveWorkerOptions>;
  /**
   * Tasks, inputs and results held here (packed), in memory or spilled to disk (`held`: the
   * memory manager's bookkeeping and the spill store, issue 20).
   */
  state!: WorkerState<Payload, Held>;
  held!: HeldData;
  private inputs!: InputLoader;
  private readonly restartable = process.env[NANNY_ENV] === '1';
  /** Function definitions, in step with the scheduler's record of them (Lru). */
  private readonly fns = new Lru<string, FnSpec>(FN_CACHE_SIZE);
  /** Grace timers of cancelled runs, by run id. */
  private readonly graceTimers = new Map<number, NodeJS.Timeout>();
  private queue: Event[] = [];
  private handling = false;
  private messages = 0;
  private readonly peers: PeerPool;
  private readonly schedOut: Outbox;
  private readonly dataOut: Outbox;
  private pool!: ThreadPool;
  /** The gangs this worker is in (set when it is an MPI rank's own process). */
  private readonly gangs: GangRuntime | null;
  private heartbeat: NodeJS.Timeout | undefined;
  private lifetimeTimers: NodeJS.Timeout[] = [];
  private lastHeard = Date.now();
  private isRegistered = false;
  /** Bytes fetched from other workers since start, and the fetches since the last heartbeat. */
  private transferBytes = 0;
  private transfers: number[] = [];
  private lastCpu = process.cpuUsage();
  private lastBeat = performance.now();
  /** Event-loop delay of the main thread between heartbeats (the dashboard's lag column). */
  private readonly loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  private toldUnreachable = false;
  private closing = false;
  private resolveClosed!: (reason: string) => void;
  private resolveRegistered!: () => void;
  /** Resolves once the scheduler has accepted this worker. */
  readonly registered = new Promise<void>((r) => (this.resolveRegistered = r));
  /** Resolves with the reason once the worker has stopped. */
  readonly closed = new Promise<string>((r) => (this.resolveClosed = r));
  address = '';

  private unsecure: () => void = () => {};
  /** With security on, the sealed bulk port for large values (net/bulk.ts). */
  private bulk: BulkServer | null = null;

  private constructor(
    options: WorkerOptions,
    keys: ClusterKeys | null,
    private readonly toScheduler: zmq.Dealer,
    private readonly dataSocket: zmq.Router,
  ) {
    this.options = resolveWorkerOptions(options);
    this.name = options.name ?? `${os.hostname()}-${process.pid}`;
    this.peers = new PeerPool(`worker ${this.name}`, keys);
    this.schedOut = new Outbox(toScheduler, false, `worker ${this.name}`);
    this.dataOut = new Outbox(dataSocket, true, `worker ${this.name} data`);
    this.gangs = options.mpi ? new GangRuntime(options.mpi) : null;
  }

  static async start(options: WorkerOptions): Promise<Worker> {
    resolveWorkerOptions(options);
    const choice = await workerHost(options);
    const keys = resolveSecurity(options.security, 'worker', 'refuse');
    const w = new Worker(options, keys, dealer(keys), router());
    const said = describeHostChoice(w.name, options.scheduler, choice);
    if (said) log[said.level](said.message);
    // The routing id must be set before connecting.
    w.toScheduler.routingId = w.id;
    // Its data service admits only the cluster's peers, as the scheduler does.
    if (keys) w.unsecure = await secureServer(w.dataSocket, keys);
    await w.dataSocket.bind(bindEndpoint(choice.host));
    w.address = boundEndpoint(w.dataSocket);
    if (keys) w.bulk = await BulkServer.start(choice.host, `worker ${w.name}`);
    const parent = options.localDirectory
      ? path.resolve(options.localDirectory)
      : defaultWorkerParent();
    const localDirectory = createWorkerDirectory(parent, w.id);
    w.options.localDirectory = localDirectory;
    delete process.env[NANNY_ENV];
    w.held = new HeldData({
      limit: w.options.memoryLimit,
      thresholds: w.options.memoryThresholds,
      directory: localDirectory,
      name: w.name,
      onPause: (paused, why) => w.onPause(paused, why),
      onTerminate: (why) => w.onMemoryTerminate(why),
    });
    w.state = new WorkerState<Payload, Held>(w.held);
    w.pool = new ThreadPool(w.options.nthreads, (results) => w.onResults(results), {
      heapMb: heapCapMb(
        w.options.memoryLimit,
        w.options.memoryThresholds,
        w.options.nthreads,
        process.memoryUsage.rss(),
      ),
      // Tasks' clients (getClient) connect here with these keys, handed over in memory.
      cluster: { scheduler: options.scheduler, keys },
      // A task waiting on its client's futures holds no slot: the scheduler places more here.
      onSecede: (_run, key, seceded) =>
        w.schedOut.post('', { t: seceded ? 'long-running' : 'rejoined', key }),
    });
    w.inputs = new InputLoader(
      w.held,
      w.pool,
      (task, key) => {
        const message = `input ${key} could not be read back from the spill store`;
        const error = { name: 'Error', message, code: 'ERR_SPILL' };
        const now = Date.now();
        w.feed([{ type: 'task-error', key: task.key, run: task.run, error, duration: 0, now }]);
      },
      () => w.closing,
    );
    w.toScheduler.connect(options.scheduler);
    w.schedOut.post('', {
      t: 'register',
      worker: {
        id: w.id,
        name: w.name,
        host: os.hostname(),
        address: w.address,
        nthreads: w.options.nthreads,
        memoryLimit: w.options.memoryLimit,
        pid: process.pid,
        localDirectory,
        resources: options.resources,
        mpi: w.gangs?.wire,
      },
    });
    w.heartbeat = setInterval(() => w.beat(), w.options.heartbeatInterval);
    w.loopDelay.enable();
    if (options.lifetime !== undefined) w.startLifetime(options.lifetime);
    void w.receiveScheduler();
    void w.serveData();
    return w;
  }

  /**
   * At the end of its lifetime (a batch job's walltime near) the worker asks to retire: the
   * scheduler moves its data to workers that stay and then tells it to close. If that takes
   * longer than LIFETIME_GRACE_S, it closes anyway.
   */
  private startLifetime(seconds: number): void {
    const retire = setTimeout(() => {
      log.info(`worker ${this.name}: lifetime of ${seconds} s reached; retiring`);
      this.schedOut.post('', { t: 'retire' });
      const last = setTimeout(
        () =>
          void this.close(
            `lifetime of ${seconds} s reached; retirement took over ${LIFETIME_GRACE_S} s`,
          ),
        LIFETIME_GRACE_S * 1000,
      );
      this.lifetimeTimers.push(last);
    }, seconds * 1000);
    this.lifetimeTimers.push(retire);
  }

  /** A fetch from another worker, for the dashboard's task stream and the transfer metrics. */
  private noteTransfer(start: number, end: number, bytes: number): void {
    this.transferBytes += bytes;
    if (this.transfers.length < MAX_TRANSFERS_PER_BEAT * 3) this.transfers.push(start, end, bytes);
  }

  /** Says, once, why nothing is heard: the address tried and this host's interfaces (the usual cause). */
  private noticeUnreachable(silent: number): void {
    if (this.isRegistered || this.toldUnreachable || silent < UNREACHABLE_NOTICE_S) return;
    this.toldUnreachable = true;
    const addrs = Object.entries(os.networkInterfaces())
      .map(
        ([name, es]) =>
          `${name} ${
            (es ?? [])
              .filter((e) => e.family === 'IPv4')
              .map((e) => e.address)
              .join(',') || '(no IPv4)'
          }`,
      )
      .join('; ');
    log.warn(
      `worker ${this.name} on ${os.hostname()}: no answer from scheduler ${this.options.scheduler} after ${Math.round(silent)} s; interfaces here: ${addrs}. If the scheduler's address is not reachable from this host, start the scheduler on an interface the workers share (schedulerOptions.interface / --interface). Exiting after ${this.options.deathTimeout} s (--death-timeout).`,
    );
  }

  private beat(): void {
    const silent = (Date.now() - this.lastHeard) / 1000;
    this.noticeUnreachable(silent);
    if (silent > this.options.deathTimeout) {
      log.error(
        `worker ${this.name}: scheduler ${this.options.scheduler} silent for ${Math.round(silent)} s (death timeout ${this.options.deathTimeout} s); exiting`,
      );
      void this.close('scheduler unreachable', 1);
      return;
    }
    // What the dashboard shows of this worker: CPU since the last beat, resident memory.
    const now = performance.now();
    const usage = process.cpuUsage();
    const busy = usage.user + usage.system - (this.lastCpu.user + this.lastCpu.system);
    const cpu = now > this.lastBeat ? busy / 1000 / (now - this.lastBeat) : 0;
    this.lastCpu = usage;
    this.lastBeat = now;
    const xfer = this.transfers;
    this.transfers = [];
    // The histogram's samples are whole timer periods: what exceeds the period is the lag.
    const lag = Math.max(0, this.loopDelay.max / 1e6 - LOOP_RESOLUTION_MS) / 1000;
    this.loopDelay.reset();
    this.schedOut.post('', {
      t: 'heartbeat',
      cpu,
      rss: process.memoryUsage.rss(),
      lag,
      transferBytes: this.transferBytes,
      xfer,
      managed: this.held.memory.managed,
      spilled: this.held.memory.spilledBytes,
      spilledCount: this.held.memory.spilledCount,
      paused: this.held.isPaused ? 1 : 0,
    });
  }

  /** Paused: no task starts (data is still served); resumed: the held-back runs start. */
  private onPause(paused: boolean, why: string): void {
    if (paused) log.warn(`worker ${this.name}: paused: ${why}`);
    else log.info(`worker ${this.name}: resumed: ${why}`);
    this.pool.setPaused(paused);
    // The scheduler hears of it now, not at the next heartbeat.
    this.beat();
  }

  /**
   * Over the terminate threshold: with a nanny (a LocalCluster) the process ends and a new one
   * starts; without one everything spillable goes to disk and the task threads are recycled
   * (their running tasks run again, as after a thread's death), and the worker serves on.
   */
  private onMemoryTerminate(why: string): void {
    if (this.restartable) {
      log.error(`worker ${this.name}: ${why}: exiting so that the nanny starts a new worker`);
      void this.close(`memory: ${why}`, MEMORY_EXIT);
      return;
    }
    log.error(
      `worker ${this.name}: ${why}: nothing can restart this process, so it spills everything to disk and recycles its task threads`,
    );
    this.held.check(true);
    this.pool.recycle();
  }

  /**
   * Hands events to the state machine and carries out its actions. Events raised while doing so
   * (a pool that drops a run at once) are queued and handled after, never re-entrantly.
   */
  private feed(events: Event[]): void {
    if (this.closing) return;
    for (const ev of events) this.queue.push(ev);
    if (this.handling) return;
    this.handling = true;
    let batch: Event[] = [];
    try {
      while (this.queue.length > 0 && !this.closing) {
        batch = this.queue;
        this.queue = [];
        for (const a of this.state.handle(batch)) this.act(a);
      }
    } catch (err) {
      // A bug here would leave tasks the scheduler counts as running for ever: end loudly, so
      // the scheduler places them elsewhere (and a LocalCluster starts a new worker).
      const ev = batch.find((e) => 'key' in e) as { key?: string } | undefined;
      const story = ev?.key
        ? ` story of ${ev.key}: ${JSON.stringify(this.state.story(ev.key))}`
        : '';
      const types = Array.from(new Set(batch.map((e) => e.type))).join(', ');
      log.error(
        `worker ${this.name}: internal error handling ${types}: ${(err as Error).stack ?? err};${story}`,
      );
      this.queue = [];
      void this.close(`internal error: ${(err as Error).message}`, 1);
    } finally {
      this.handling = false;
    }
  }

  private act(a: Action): void {
    const now = Date.now();
    switch (a.type) {
      case 'fetch':
        return void this.fetch(a.holder, a.keys);
      case 'run': {
        const { fn, spec, args } = a.payload;
        if (!spec) {
          const message = `function ${fn} unknown on worker ${this.name}`;
          const error = { name: 'Error', message };
          this.queue.push({ type: 'task-error', key: a.key, run: a.run, error, duration: 0, now });
          return;
        }
        const task: PoolTask = { run: a.run, key: a.key, fnId: fn, spec, args, deps: [] };
        if (a.payload.gang) {
          const seat = this.gangs?.seat(a.key);
          if (!seat) {
            const message =
              a.payload.gangError ??
              `worker ${this.name} is not an MPI rank's own process, so it cannot be a gang member`;
            const error = { name: 'Error', message, code: 'ERR_GANG_NO_MPI' };
            this.queue.push({
              type: 'task-error',
              key: a.key,
              run: a.run,
              error,
              duration: 0,
              now,
            });
            return;
          }
          task.gang = seat;
          task.alone = true;
        }
        return this.inputs.submit(task, a.deps);
      }
      case 'cancel-run':
        // A gang's other members wait in MPI calls that will never complete: abandon them.
        this.gangs?.abandon(a.key, `gang task ${a.key} failed on another rank or was cancelled`);
        if (this.inputs.cancel(a.run) || this.pool.remove(a.run)) {
          this.queue.push({ type: 'run-dropped', key: a.key, run: a.run, now });
          return;
        }
        this.graceTimers.set(
          a.run,
          setTimeout(() => {
            this.graceTimers.delete(a.run);
            this.feed([{ type: 'grace-over', key: a.key, run: a.run, now: Date.now() }]);
          }, a.graceMs),
        );
        return;
      case 'terminate':
        this.pool.terminate(a.run);
        return;
      case 'task-finished': {
        const frames = this.state.data.get(a.key)?.value.frames ?? [];
        const inline = frames.length === 1 && a.nbytes <= INLINE_LIMIT ? frames : [];
        const op = { t: 'task-finished' as const, key: a.key, nbytes: a.nbytes };
        return this.schedOut.post('', { ...op, duration: a.duration, nf: inline.length }, inline);
      }
      case 'task-erred': {
        const error = { ...a.error, worker: this.name, key: a.key };
        return this.schedOut.post('', { t: 'task-erred', key: a.key, duration: a.duration, error });
      }
      case 'missing-data':
        return this.schedOut.post('', { t: 'missing-data', key: a.key, dep: a.dep, from: a.from });
      case 'add-keys':
        return this.schedOut.post('', { t: 'add-keys', keys: a.keys, nbytes: a.nbytes });
    }
  }

  /** One get-data to one holder; what it sent (or its failure) goes back to the state machine. */
  private async fetch(holder: string, keys: string[]): Promise<void> {
    try {
      const op = { t: 'get-data' as const, req: 0, keys };
      const start = Date.now();
      const envs = await this.peers.request(holder, op, [], FETCH_TIMEOUT);
      const got = [];
      let bytes = 0;
      for (const e of envs) {
        if (e.op.t === 'data') {
          const nbytes = packedBytes(e.frames);
          bytes += nbytes;
          got.push({ key: e.op.key, value: { frames: e.frames }, nbytes });
        }
      }
      this.noteTransfer(start, Date.now(), bytes);
      this.feed([{ type: 'fetch-done', holder, keys, got, now: Date.now() }]);
    } catch (err) {
      const reason = (err as Error).message;
      log.debug(`worker ${this.name}: fetch from ${holder}: ${reason}`);
      this.peers.drop(holder);
      this.feed([{ type: 'fetch-failed', holder, keys, reason, now: Date.now() }]);
    }
  }

  private onResults(results: PoolResult[]): void {
    const now = Date.now();
    const events: Event[] = [];
    for (const r of results) {
      clearTimeout(this.graceTimers.get(r.run));
      this.graceTimers.delete(r.run);
      const { key, run } = r;
      if ('died' in r) events.push({ type: 'thread-died', key, run, reason: r.died, now });
      else if (r.part) events.push({ type: 'task-part', key, run, now });
      else if (r.error) {
        events.push({ type: 'task-error', key, run, error: r.error, duration: r.duration, now });
      } else {
        const frames = r.frames!.map(toBuffer);
        const nbytes = packedBytes(frames);
        const value = { frames };
        events.push({ type: 'task-result', key, run, value, nbytes, duration: r.duration, now });
      }
    }
    this.feed(events);
  }

  private async receiveScheduler(): Promise<void> {
    try {
      for await (const parts of this.toScheduler) {
        this.lastHeard = Date.now();
        let envs: Envelope[];
        try {
          envs = decode(parts);
        } catch (err) {
          log.warn(
            `worker ${this.name}: malformed message from scheduler: ${(err as Error).message}`,
          );
          continue;
        }
        // One message's ops are one step of the state machine, so its fetches batch together.
        const events: Event[] = [];
        const stimulusId = `scheduler-${++this.messages}`;
        for (const env of envs) this.onScheduler(env, events, stimulusId);
        this.feed(events);
      }
    } catch (err) {
      if (!this.closing) log.error(`worker ${this.name}: ${(err as Error).message}`);
    }
  }

  private onScheduler({ op, frames }: Envelope, events: Event[], stimulusId: string): void {
    const now = Date.now();
    switch (op.t) {
      case 'define-fn':
        // An id names one function for good (as on the scheduler): other code under it is refused.
        if (sameOrNew(this.fns.get(op.id), op.spec)) this.fns.set(op.id, op.spec);
        else log.warnOften('redefine', `worker ${this.name}: function ${op.id} redefined; refused`);
        return;
      case 'compute': {
        const payload: Payload = { fn: op.fn, spec: this.fns.get(op.fn) ?? null, args: frames };
        const fresh = op.gang !== undefined;
        if (op.gang) {
          payload.gang = op.gang;
          const here = this.state.tasks.get(op.key)?.state;
          payload.gangError = this.gangs?.compute(op.key, op.gang, here, this.name);
        }
        events.push({
          type: 'compute',
          key: op.key,
          payload,
          deps: op.deps,
          fresh,
          now,
          stimulusId,
        });
        return;
      }
      case 'free-keys':
        events.push({ type: 'free-keys', keys: op.keys, now, stimulusId });
        return;
      case 'cancel-compute':
        events.push({ type: 'cancel-compute', keys: op.keys, now, stimulusId });
        return;
      case 'acquire-replicas':
        events.push({ type: 'acquire-replicas', deps: op.deps, now, stimulusId });
        return;
      case 'closing':
        void this.close(`scheduler closing: ${op.reason}`, 0);
        return;
      case 'registered':
        log.member(
          `worker ${this.name} (${this.id}) registered with scheduler ${this.options.scheduler}: ${this.options.nthreads} threads, data at ${this.address}`,
        );
        this.isRegistered = true;
        this.resolveRegistered();
        return;
      case 'heartbeat':
        return;
      case 'profile': {
        const req = op.req;
        void this.pool
          .profile(Math.min(Math.max(op.ms, 100), MAX_PROFILE_MS))
          .then((tree) =>
            this.schedOut.post('', { t: 'profile-data', req, tree: JSON.stringify(tree) }),
          );
        return;
      }
    }
    log.debug(`worker ${this.name}: unexpected ${op.t} from scheduler`);
  }

  /** The data service: peers and clients get and put stored results here. */
  private async serveData(): Promise<void> {
    try {
      for await (const parts of this.dataSocket) {
        const peer = parts[0].toString('latin1');
        let envs: Envelope[];
        try {
          envs = decode(parts.slice(1));
        } catch (err) {
          log.warnOften(
            'worker malformed',
            `worker ${this.name}: malformed data request: ${(err as Error).message}`,
          );
          continue;
        }
        for (const { op, frames } of envs) {
          if (op.t === 'get-data') {
            const got = op.keys.map((k) => this.held.frames(k));
            if (got.every((g) => !(g instanceof Promise))) {
              this.sendData(peer, op.req, op.keys, got as (Buffer[] | null)[], op.bulk);
            } else {
              // Some are on disk: answered once read back (other requests go on meanwhile).
              const { req, keys, bulk } = op;
              void Promise.all(got).then((all) => this.sendData(peer, req, keys, all, bulk));
            }
          } else if (op.t === 'put-data') {
            const put = { key: op.key, value: { frames }, nbytes: packedBytes(frames) };
            this.feed([{ type: 'put-data', ...put, now: Date.now() }]);
            this.dataOut.post(peer, { t: 'put-ack', req: op.req, keys: [op.key] });
          } else if (op.t === 'ping') {
            this.dataOut.post(peer, { t: 'pong', req: op.req });
          }
        }
      }
    } catch (err) {
      if (!this.closing) log.error(`worker ${this.name}: data service: ${(err as Error).message}`);
    }
  }

  /**
   * Answers a get-data. Large values go sealed on the bulk channel when the requester has a bulk
   * receiver (`bulkTo`); one not yet connected is told where first, and if its hello does not come
   * in BULK_HELLO_MS its values go over CURVE as the rest do (from then on without waiting).
   */
  private sendData(
    peer: string,
    req: number,
    keys: string[],
    got: (Buffer[] | null)[],
    bulkTo?: string,
  ): void {
    const bulk = this.bulk;
    if (this.closing) return;
    if (
      !bulk ||
      !bulkTo ||
      !got.some((f) => f && goesBulk(f)) ||
      bulk.isReachable(bulkTo) ||
      !bulk.worthWaitingFor(bulkTo)
    ) {
      return this.postData(peer, req, keys, got, bulkTo);
    }
    this.dataOut.post(peer, { t: 'bulk-at', req, address: bulk.address });
    void bulk
      .reachable(bulkTo, BULK_HELLO_MS)
      .then(() => this.postData(peer, req, keys, got, bulkTo));
  }

  private postData(
    peer: string,
    req: number,
    keys: string[],
    got: (Buffer[] | null)[],
    bulkTo?: string,
  ): void {
    if (this.closing) return;
    const bulk = bulkTo && this.bulk?.isReachable(bulkTo) ? this.bulk : null;
    keys.forEach((key, i) => {
      const f = got[i];
      if (f && bulk && goesBulk(f)) {
        this.dataOut.post(peer, { t: 'data-bulk', req, key, ...bulk.send(bulkTo!, f) });
      } else if (f) this.dataOut.post(peer, { t: 'data', req, key, nf: f.length }, f);
      else this.dataOut.post(peer, { t: 'no-data', req, key });
    });
    this.dataOut.post(peer, { t: 'data-end', req });
  }

  /** Stops: says goodbye to the scheduler, closes sockets and threads. */
  async close(reason = 'closed', exitCode = 0): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.heartbeat);
    this.loopDelay.disable();
    for (const t of this.lifetimeTimers) clearTimeout(t);
    for (const t of this.graceTimers.values()) clearTimeout(t);
    this.graceTimers.clear();
    if (exitCode !== 0) log.warn(`worker ${this.name}: ${reason}`);
    log.member(`worker ${this.name} (${this.id}) closing: ${reason}`);
    this.schedOut.post('', { t: 'bye' });
    await Promise.race([this.schedOut.drained(), new Promise((r) => setTimeout(r, 200))]);
    this.peers.close();
    this.schedOut.close();
    this.dataOut.close();
    this.toScheduler.close();
    this.dataSocket.close();
    this.bulk?.close();
    this.unsecure();
    this.held.close();
    await this.pool.close();
    fs.rmSync(this.options.localDirectory!, { recursive: true, force: true });
    process.exitCode = exitCode;
    this.resolveClosed(reason);
  }
}
