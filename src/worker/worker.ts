import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as zmq from 'zeromq';
import { log } from '../log';
import { Outbox, PeerPool, bindEndpoint, boundEndpoint, dealer, hostFor, router } from '../net';
import { decode, packedBytes, type DepLocation, type Envelope, type FnSpec } from '../protocol';
import { resolveWorkerOptions, type WorkerOptions } from './options';
import { FN_CACHE_SIZE, Lru } from '../util/lru';
import { ThreadPool } from './pool';
import type { ThreadResult } from './thread-messages';

/** Keys asked of one holder in one get-data at most. */
const FETCH_BATCH = 1000;
/** Results up to this size ride along with task-finished so clients get them in one hop. */
const INLINE_LIMIT = 16 * 1024;

interface Pending {
  key: string;
  fn: string;
  /** Taken from the cache when the compute arrived (null: never defined here). */
  spec: FnSpec | null;
  args: Buffer[];
  deps: DepLocation[];
  cancelled: boolean;
}

const toBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/**
 * A worker process: a DEALER to the scheduler, a ROUTER serving its stored results to peers and
 * clients, and a pool of executor threads. Results are kept packed (as frames) and never
 * deserialized on this thread.
 */
export class Worker {
  readonly id = `w-${randomUUID()}`;
  readonly name: string;
  readonly options: ReturnType<typeof resolveWorkerOptions>;
  /**
   * Results held here, packed. Bounded by what the scheduler placed on this worker and has not
   * freed (`free-keys`); memoryLimit is not enforced and nothing spills to disk yet.
   */
  private readonly data = new Map<string, Buffer[]>();
  /** Function definitions, in step with the scheduler's record of them (Lru). */
  private readonly fns = new Lru<string, FnSpec>(FN_CACHE_SIZE);
  /** Tasks assigned and not finished: at most the capacity the scheduler gives this worker. */
  private readonly tasks = new Map<string, Pending>();
  private readonly fetching = new Map<string, Promise<boolean>>();
  private readonly peers: PeerPool;
  private readonly schedOut: Outbox;
  private readonly dataOut: Outbox;
  private pool!: ThreadPool;
  private heartbeat: NodeJS.Timeout | undefined;
  private lastHeard = Date.now();
  private closing = false;
  private resolveClosed!: (reason: string) => void;
  private resolveRegistered!: () => void;
  /** Resolves once the scheduler has accepted this worker. */
  readonly registered = new Promise<void>((r) => (this.resolveRegistered = r));
  /** Resolves with the reason once the worker has stopped. */
  readonly closed = new Promise<string>((r) => (this.resolveClosed = r));
  address = '';

  private constructor(
    options: WorkerOptions,
    private readonly toScheduler: zmq.Dealer,
    private readonly dataSocket: zmq.Router,
  ) {
    this.options = resolveWorkerOptions(options);
    this.name = options.name ?? `${os.hostname()}-${process.pid}`;
    this.peers = new PeerPool(`worker ${this.name}`);
    this.schedOut = new Outbox(toScheduler, false, `worker ${this.name}`);
    this.dataOut = new Outbox(dataSocket, true, `worker ${this.name} data`);
  }

  static async start(options: WorkerOptions): Promise<Worker> {
    resolveWorkerOptions(options);
    const host = hostFor(options);
    const w = new Worker(options, dealer(), router());
    // The routing id must be set before connecting.
    w.toScheduler.routingId = w.id;
    await w.dataSocket.bind(bindEndpoint(host));
    w.address = boundEndpoint(w.dataSocket);
    const localDirectory = path.resolve(
      options.localDirectory ?? path.join(os.tmpdir(), 'mpi-cluster'),
      `worker-${w.id}`,
    );
    w.options.localDirectory = localDirectory;
    fs.mkdirSync(localDirectory, { recursive: true });
    w.pool = new ThreadPool(w.options.nthreads, (results) => {
      for (const r of results) w.onResult(r);
    });
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
      },
    });
    w.heartbeat = setInterval(() => w.beat(), w.options.heartbeatInterval);
    void w.receiveScheduler();
    void w.serveData();
    return w;
  }

  private beat(): void {
    const silent = (Date.now() - this.lastHeard) / 1000;
    if (silent > this.options.deathTimeout) {
      log.error(
        `worker ${this.name}: scheduler ${this.options.scheduler} silent for ${Math.round(silent)} s (death timeout ${this.options.deathTimeout} s); exiting`,
      );
      void this.close('scheduler unreachable', 1);
      return;
    }
    this.schedOut.post('', { t: 'heartbeat' });
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
        for (const env of envs) this.onScheduler(env);
      }
    } catch (err) {
      if (!this.closing) log.error(`worker ${this.name}: ${(err as Error).message}`);
    }
  }

  private onScheduler({ op, frames }: Envelope): void {
    switch (op.t) {
      case 'define-fn':
        this.fns.set(op.id, op.spec);
        return;
      case 'compute':
        this.tasks.set(op.key, {
          key: op.key,
          fn: op.fn,
          spec: this.fns.get(op.fn) ?? null,
          args: frames,
          deps: op.deps,
          cancelled: false,
        });
        void this.prepare(op.key);
        return;
      case 'free-keys':
        for (const k of op.keys) this.data.delete(k);
        return;
      case 'cancel-compute':
        for (const k of op.keys) {
          const t = this.tasks.get(k);
          if (!t) continue;
          t.cancelled = true;
          if (this.pool.remove(k)) this.tasks.delete(k);
        }
        return;
      case 'closing':
        void this.close(op.reason, 0);
        return;
      case 'registered':
        this.resolveRegistered();
        return;
      case 'heartbeat':
        return;
    }
    log.debug(`worker ${this.name}: unexpected ${op.t} from scheduler`);
  }

  /** Fetches missing inputs from their holders, then hands the task to a thread. */
  private async prepare(key: string): Promise<void> {
    const t = this.tasks.get(key)!;
    const missing = t.deps.filter((d) => !this.data.has(d.key));
    if (missing.length > 0) {
      const ok = await this.fetchAll(missing, key);
      if (t.cancelled || this.closing || !ok) {
        this.tasks.delete(key);
        return;
      }
    }
    const spec = t.spec;
    if (!spec) {
      this.tasks.delete(key);
      this.schedOut.post('', {
        t: 'task-erred',
        key,
        duration: 0,
        error: { name: 'Error', message: `function ${t.fn} unknown on worker ${this.name}` },
      });
      return;
    }
    const deps: [string, Buffer[]][] = t.deps.map((d) => [d.key, this.data.get(d.key)!]);
    this.pool.submit({ key, fnId: t.fn, spec, args: t.args, deps });
  }

  /**
   * Brings inputs here: one get-data per holder for up to FETCH_BATCH keys (a task with 100,000
   * inputs makes 100 requests, not 100,000), one transfer per key at a time; a key its first
   * holder did not send is tried at the others.
   */
  private async fetchAll(deps: DepLocation[], forKey: string): Promise<boolean> {
    const waits: Promise<boolean>[] = [];
    const byHolder = new Map<string, DepLocation[]>();
    for (const d of deps) {
      const inFlight = this.fetching.get(d.key);
      if (inFlight) waits.push(inFlight);
      else {
        const from = d.who[0] ?? '';
        const list = byHolder.get(from);
        if (list) list.push(d);
        else byHolder.set(from, [d]);
      }
    }
    for (const [from, list] of byHolder) {
      for (let i = 0; i < list.length; i += FETCH_BATCH) {
        const chunk = list.slice(i, i + FETCH_BATCH);
        const got = this.fetchBatch(from, chunk);
        for (const d of chunk) {
          const p = got
            .then((keys) => keys.has(d.key) || this.fetchFrom(d, forKey, from))
            .finally(() => this.fetching.delete(d.key));
          this.fetching.set(d.key, p);
          waits.push(p);
        }
      }
    }
    const results = await Promise.all(waits);
    return results.every(Boolean);
  }

  /** Asks one holder for many keys; resolves with the keys it sent. */
  private async fetchBatch(from: string, deps: DepLocation[]): Promise<Set<string>> {
    const got = new Set<string>();
    if (!from) return got;
    try {
      const keys = deps.map((d) => d.key);
      const envs = await this.peers.request(from, { t: 'get-data', req: 0, keys }, [], 30_000);
      const nbytes: number[] = [];
      for (const e of envs) {
        if (e.op.t !== 'data') continue;
        this.data.set(e.op.key, e.frames);
        got.add(e.op.key);
        nbytes.push(packedBytes(e.frames));
      }
      if (got.size > 0) this.schedOut.post('', { t: 'add-keys', keys: Array.from(got), nbytes });
    } catch (err) {
      log.debug(`worker ${this.name}: fetch from ${from}: ${(err as Error).message}`);
      this.peers.drop(from);
    }
    return got;
  }

  /** Tries the other holders of a key `failedAt` did not send; reports every holder without it. */
  private async fetchFrom(dep: DepLocation, forKey: string, failedAt: string): Promise<boolean> {
    const failed: string[] = failedAt ? [failedAt] : [];
    for (const from of dep.who) {
      if (from === failedAt) continue;
      if ((await this.fetchBatch(from, [dep])).has(dep.key)) return true;
      failed.push(from);
    }
    // Nobody had it: the scheduler corrects its records and runs this task again later.
    for (const from of failed.length > 0 ? failed : ['']) {
      this.schedOut.post('', { t: 'missing-data', key: forKey, dep: dep.key, from });
    }
    return false;
  }

  private onResult(r: ThreadResult): void {
    const t = this.tasks.get(r.key);
    this.tasks.delete(r.key);
    if (!t || t.cancelled || this.closing) return;
    if (r.error) {
      this.schedOut.post('', {
        t: 'task-erred',
        key: r.key,
        duration: r.duration,
        error: { ...r.error, worker: this.name, key: r.key },
      });
      return;
    }
    const frames = r.frames!.map(toBuffer);
    this.data.set(r.key, frames);
    const nbytes = packedBytes(frames);
    const inline = frames.length === 1 && nbytes <= INLINE_LIMIT ? frames : [];
    this.schedOut.post(
      '',
      { t: 'task-finished', key: r.key, nbytes, duration: r.duration, nf: inline.length },
      inline,
    );
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
          log.warn(`worker ${this.name}: malformed data request: ${(err as Error).message}`);
          continue;
        }
        for (const { op, frames } of envs) {
          if (op.t === 'get-data') {
            for (const key of op.keys) {
              const f = this.data.get(key);
              if (f) this.dataOut.post(peer, { t: 'data', req: op.req, key, nf: f.length }, f);
              else this.dataOut.post(peer, { t: 'no-data', req: op.req, key });
            }
            this.dataOut.post(peer, { t: 'data-end', req: op.req });
          } else if (op.t === 'put-data') {
            this.data.set(op.key, frames);
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

  /** Stops: says goodbye to the scheduler, closes sockets and threads. */
  async close(reason = 'closed', exitCode = 0): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.heartbeat);
    if (reason !== 'closed' && exitCode !== 0) log.warn(`worker ${this.name}: ${reason}`);
    this.schedOut.post('', { t: 'bye' });
    await Promise.race([this.schedOut.drained(), new Promise((r) => setTimeout(r, 200))]);
    this.peers.close();
    this.schedOut.close();
    this.dataOut.close();
    this.toScheduler.close();
    this.dataSocket.close();
    await this.pool.close();
    fs.rmSync(this.options.localDirectory!, { recursive: true, force: true });
    process.exitCode = exitCode;
    this.resolveClosed(reason);
  }
}
