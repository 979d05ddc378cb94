import { spawn, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import { ClusterError, OptionError } from '../errors';
import { log, readyLine } from '../log';
import { KEYS_ENV, type ClusterKeys } from '../net/security';
import { distFile } from '../paths';
import { Scheduler } from '../scheduler/server';
import { parseDuration } from '../util/duration';
import {
  MAX_QUICK_MEMORY_EXITS,
  MEMORY_EXIT,
  NANNY_ENV,
  RESTART_WINDOW_MS,
  parseMemoryLimit,
  type WorkerOptions,
} from '../worker/options';
import { resolveThresholds, thresholdFlags } from '../worker/memory';
import { closeClusterAtScriptEnd } from './script-end';

export interface LocalClusterOptions {
  /** Worker processes. Default: the number of CPUs. */
  nWorkers?: number;
  /** Threads (concurrent tasks) per worker. Default 1. */
  threadsPerWorker?: number;
  /** Per worker: 'auto' | bytes | '4GB' | fraction; 0 or false: no limit. */
  memoryLimit?: number | string | false;
  /** Dask's thresholds, fractions of memoryLimit or false: target, spill, pause, terminate. */
  memoryThresholds?: WorkerOptions['memoryThresholds'];
  /** Network interface for scheduler and workers; default loopback. */
  interface?: string;
  localDirectory?: string;
  /** How long to wait for the workers to register: ms, or '30s'. Default 30 s. */
  timeout?: number | string;
  /** false: no security (a warning says so). Default: keys made for this cluster, in memory. */
  security?: false;
  /** The scheduler's HTTP server (/metrics, /health): ':8787' (default), 'host:port', or false. */
  dashboardAddress?: string | number | false;
}

/** Every LocalCluster option (LocalCUDACluster takes them too). */
export const LOCAL_CLUSTER_OPTIONS = [
  'nWorkers',
  'threadsPerWorker',
  'memoryLimit',
  'memoryThresholds',
  'interface',
  'localDirectory',
  'timeout',
  'security',
  'dashboardAddress',
];

/** Per worker slot: its name, extra environment and the resources it offers (GPU workers). */
export type WorkerSetup = (index: number) => {
  name: string;
  env: Record<string, string>;
  resources?: Record<string, number>;
};

/** The glibc settings a LocalCluster gives its workers (see where they are spawned). */
export const MALLOC_ENV = Object.freeze({
  MALLOC_MMAP_THRESHOLD_: String(2 ** 20),
  MALLOC_TRIM_THRESHOLD_: String(2 ** 16),
});

/**
 * A worker that dies this many times within RESTART_WINDOW_MS of its start is not restarted;
 * exits over its memory threshold have the nanny's allowance (MAX_QUICK_MEMORY_EXITS).
 */
const MAX_QUICK_DEATHS = 3;
/** How long a retiring worker may take to hand over its data before it is stopped (ms). */
const RETIRE_TIMEOUT_MS = 30_000;

interface Slot {
  child: ChildProcess;
  started: number;
  quickDeaths: number;
  /** Being scaled away: its exit is not a death to recover from. */
  retiring: boolean;
}

/**
 * A scheduler in this process and worker processes on this machine: what `Client.connect()`
 * starts when no address is given. Like Dask's nanny, it restarts a worker that dies.
 */
export class LocalCluster {
  /** Worker processes by slot index (its name is local-<index>). */
  private readonly slots = new Map<number, Slot>();
  private closing: Promise<void> | null = null;
  /** A script that ends without close() closes this cluster (script-end.ts). */
  private readonly leaveScriptEnd = closeClusterAtScriptEnd({
    busy: () => false,
    close: () => this.close(),
  });

  private constructor(
    readonly scheduler: Scheduler,
    private readonly options: LocalClusterOptions & { nWorkers: number; threadsPerWorker: number },
    private readonly setup: WorkerSetup,
  ) {}

  get address(): string {
    return this.scheduler.address;
  }

  /** The cluster's keys (null when security is off): `Client.connect(cluster)` uses them. */
  get keys(): ClusterKeys | null {
    return this.scheduler.keys;
  }

  static start(options: LocalClusterOptions = {}): Promise<LocalCluster> {
    return LocalCluster.startWith(options, (i) => ({ name: `local-${i}`, env: {} }));
  }

  /** @internal LocalCUDACluster: the same, each worker set up by `setup`. */
  static async startWith(options: LocalClusterOptions, setup: WorkerSetup): Promise<LocalCluster> {
    for (const k of Object.keys(options)) {
      if (!LOCAL_CLUSTER_OPTIONS.includes(k))
        throw new OptionError(
          `unknown LocalCluster option "${k}"; known: ${LOCAL_CLUSTER_OPTIONS.join(', ')}`,
        );
    }
    const nWorkers = options.nWorkers ?? os.availableParallelism();
    const threadsPerWorker = options.threadsPerWorker ?? 1;
    if (!Number.isInteger(nWorkers) || nWorkers < 0) {
      throw new OptionError(`nWorkers must be a non-negative integer, got ${options.nWorkers}`);
    }
    // Checked here, at the call, not only in each worker (where it would surface as a timeout).
    if (options.memoryLimit !== undefined) parseMemoryLimit(options.memoryLimit, threadsPerWorker);
    resolveThresholds(options.memoryThresholds);
    if (!Number.isInteger(threadsPerWorker) || threadsPerWorker < 1) {
      throw new OptionError(
        `threadsPerWorker must be a positive integer, got ${options.threadsPerWorker}`,
      );
    }
    const timeout =
      options.timeout === undefined
        ? 30_000
        : parseDuration(options.timeout, { name: 'timeout', unit: 'ms' });
    if (options.security !== undefined && options.security !== false) {
      throw new OptionError(
        'LocalCluster security: only false (off) can be given; keys are made for each cluster',
      );
    }
    const scheduler = await Scheduler.start({
      interface: options.interface,
      local: !options.interface,
      security: options.security,
      dashboardAddress: options.dashboardAddress,
    });
    const cluster = new LocalCluster(scheduler, { ...options, nWorkers, threadsPerWorker }, setup);
    // A client's shutdown() stops the scheduler: the cluster closes with it (no restarts).
    void scheduler.closed.then(() => cluster.close());
    const started = performance.now();
    try {
      await cluster.scale(nWorkers, timeout);
    } catch (err) {
      await cluster.close();
      throw err;
    }
    log.info(
      readyLine(
        `LocalCluster of ${nWorkers} workers`,
        {
          address: scheduler.address,
          dashboardLink: scheduler.dashboardLink,
        },
        (performance.now() - started) / 1000,
      ),
    );
    return cluster;
  }

  /**
   * Runs `n` workers: starts more, or retires the newest ones gracefully (they finish their
   * tasks and hand their data to workers that stay before they exit).
   */
  async scale(n: number, timeout = 30_000): Promise<void> {
    if (!Number.isInteger(n) || n < 0) {
      throw new OptionError(`scale(n): n must be a non-negative integer, got ${n}`);
    }
    if (this.closing) throw new ClusterError('ERR_CLIENT_CLOSED', 'LocalCluster is closed');
    const active = [...this.slots].filter(([, s]) => !s.retiring).map(([i]) => i);
    if (n < active.length)
      return this.retire(active.sort((a, b) => b - a).slice(0, active.length - n));
    for (let i = 0, added = active.length; added < n; i++) {
      if (this.slots.has(i)) continue;
      this.spawnWorker(i, 0);
      added++;
    }
    await this.scheduler.waitForWorkers(n, timeout).catch((err: Error) => {
      throw new ClusterError('ERR_TIMEOUT', `LocalCluster: ${err.message}`);
    });
  }

  private async retire(indexes: number[]): Promise<void> {
    const slots = indexes.map((i) => this.slots.get(i)!);
    const pids = new Set(slots.map((s) => s.child.pid));
    for (const s of slots) s.retiring = true;
    const ids = [...this.scheduler.core.workers.values()]
      .filter((w) => pids.has(w.info.pid))
      .map((w) => w.id);
    const exited = slots.map((s) => exitOf(s.child));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>(
      (r) => (timer = setTimeout(() => r('late'), RETIRE_TIMEOUT_MS)),
    );
    const r = await Promise.race([this.scheduler.retireWorkers(ids), late]);
    clearTimeout(timer);
    if (r === 'late') {
      log.warn(
        `LocalCluster: workers ${indexes.join(', ')} did not retire within ${RETIRE_TIMEOUT_MS / 1000} s; stopping them`,
      );
      for (const s of slots) s.child.kill('SIGTERM');
    }
    await Promise.all(exited);
  }

  private spawnWorker(i: number, quickDeaths: number): void {
    const o = this.options;
    const own = this.setup(i);
    const args = [
      distFile('cli', 'worker.js'),
      this.address,
      '--nthreads',
      String(o.threadsPerWorker),
      '--name',
      own.name,
    ];
    if (own.resources) {
      args.push(
        '--resources',
        Object.entries(own.resources)
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
      );
    }
    if (o.memoryLimit !== undefined) args.push('--memory-limit', String(o.memoryLimit));
    args.push(...thresholdFlags(o.memoryThresholds));
    if (o.interface) args.push('--interface', o.interface);
    else args.push('--host', '127.0.0.1');
    if (o.localDirectory) args.push('--local-directory', o.localDirectory);
    // The IPC channel ends when this process dies, and the worker exits with it.
    // MPI_CLUSTER_WORKER_NODE_ARGS passes flags to worker processes' node, e.g. --cpu-prof.
    const nodeArgs = (process.env.MPI_CLUSTER_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
    // The keys go through the environment, never the command line (which `ps` shows).
    const keys = this.scheduler.keys;
    if (!keys) args.push('--no-security');
    const env = {
      // Its workers log as this process does (the library: warn), not as a worker run by hand.
      MPI_CLUSTER_LOG: log.levelName(),
      // This process restarts them: over the terminate threshold they exit (worker.ts).
      [NANNY_ENV]: '1',
      // glibc serves large blocks that were freed before from its heap, and keeps them: a worker
      // that spilled its values would stay above its pause threshold. A fixed mmap threshold
      // gives blocks of 1 MiB and more back to the system when freed (Dask's nanny sets
      // MALLOC_TRIM_THRESHOLD_ for the same reason).
      ...MALLOC_ENV,
      ...process.env,
      ...own.env,
      ...(keys ? { [KEYS_ENV]: JSON.stringify(keys) } : {}),
    };
    const child = spawn(process.execPath, [...nodeArgs, ...args], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env,
    });
    // Worker processes never keep this process alive: the script's end closes the cluster.
    child.unref();
    child.channel?.unref();
    const slot: Slot = { child, started: Date.now(), quickDeaths, retiring: false };
    this.slots.set(i, slot);
    child.on('exit', (code, signal) => {
      if (this.slots.get(i) === slot) this.slots.delete(i);
      if (this.closing || slot.retiring) return;
      const why = `process exited (${signal ?? `code ${code}`})`;
      // Like a nanny: report a dead worker at once, and start another in its place.
      this.scheduler.workerExited(child.pid!, why);
      const quick = Date.now() - slot.started < RESTART_WINDOW_MS ? slot.quickDeaths + 1 : 0;
      const most = code === MEMORY_EXIT ? MAX_QUICK_MEMORY_EXITS : MAX_QUICK_DEATHS;
      if (quick >= most) {
        log.error(
          `LocalCluster: worker ${own.name} died ${quick} times within ${RESTART_WINDOW_MS / 1000} s of starting (last: ${why}); not restarting it`,
        );
        return;
      }
      log.warn(`LocalCluster: worker ${own.name} ${why}; restarting it`);
      this.spawnWorker(i, quick);
    });
  }

  /** Worker processes' pids (tests kill them to prove resilience). */
  get workerPids(): number[] {
    return [...this.slots.values()].map((s) => s.child.pid!).filter(Boolean);
  }

  /** Stops the workers and the scheduler. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.leaveScriptEnd();
      const children = [...this.slots.values()].map((s) => s.child);
      const exited = children.map(exitOf);
      await this.scheduler.close('local cluster closed');
      const timer = setTimeout(() => {
        for (const c of children) c.kill('SIGKILL');
      }, 3000);
      await Promise.all(exited);
      clearTimeout(timer);
    })();
    return this.closing;
  }
}

function exitOf(c: ChildProcess): Promise<void> {
  return new Promise((r) =>
    c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r()),
  );
}
