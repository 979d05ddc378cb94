import type { Security } from '../net/security';
import type { WorkerMpi } from './gang';
import * as os from 'node:os';
import { OptionError } from '../errors';
import { resolveThresholds, type MemoryThresholds } from './memory';

export interface WorkerOptions {
  /** Scheduler address (tcp://host:port). */
  scheduler: string;
  /** Tasks run at once, each on its own worker thread. */
  nthreads?: number;
  name?: string;
  /**
   * 'auto' | bytes | '4GB' | fraction of host memory (0 < x <= 1); 0 or false: no limit (nothing
   * spills, pauses or restarts).
   */
  memoryLimit?: number | string | false;
  /**
   * Dask's memory thresholds, fractions of memoryLimit, each a number or false (off): target
   * 0.6 (stored values above it spill), spill 0.7 (process memory above it spills), pause 0.8,
   * terminate 0.95.
   */
  memoryThresholds?: Partial<Record<keyof MemoryThresholds, number | false>>;
  localDirectory?: string;
  /** Network interface to serve data on, e.g. 'ib0'. */
  interface?: string;
  host?: string;
  local?: boolean;
  /** Exit when the scheduler has been unreachable this long (seconds). */
  deathTimeout?: number;
  /**
   * Seconds after which the worker retires by itself: its data goes to workers that stay, then it
   * exits (set below a batch job's walltime).
   */
  lifetime?: number;
  /** Resources this worker offers, e.g. { GPU: 1 }. */
  resources?: Record<string, number>;
  /** Heartbeat interval (ms). */
  heartbeatInterval?: number;
  /** The cluster's keys, or false (no security); absent: taken from MPI_CLUSTER_KEYS. */
  security?: Security;
  /**
   * @internal Set by initialize()/mpi-init for a worker in an MPI rank's own process: the
   * cluster's communicator and the job's id. Such a worker can be a member of gang tasks.
   */
  mpi?: WorkerMpi;
}

/**
 * Set by a LocalCluster for its workers: a process that goes over the terminate threshold exits
 * and is started anew. Elsewhere (an MPI rank, a worker by hand) nothing would restart it, so it
 * evicts its data to disk and recycles its task threads instead (worker.ts).
 */
export const NANNY_ENV = 'MPI_CLUSTER_NANNY';
/** The exit code of a worker that went over its terminate threshold (a nanny starts another). */
export const MEMORY_EXIT = 75;
/**
 * A worker that goes over its terminate threshold this many times within RESTART_WINDOW_MS of its
 * start is not started again (nanny and LocalCluster): more than the 3 deaths after which the
 * task that causes them errs (ERR_KILLED_WORKER), so a task that fills memory each time ends
 * before the worker does, while a workload only tight on memory goes on.
 */
export const MAX_QUICK_MEMORY_EXITS = 5;
export const RESTART_WINDOW_MS = 10_000;

export const WORKER_DEFAULTS = Object.freeze({
  nthreads: 1,
  memoryLimit: 'auto' as number | string,
  deathTimeout: 60,
  heartbeatInterval: 500,
});

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
  k: 2 ** 10,
  m: 2 ** 20,
  g: 2 ** 30,
  t: 2 ** 40,
};

/** Resolves a memory limit to bytes; 'auto' shares host memory by thread count. */
export function parseMemoryLimit(value: number | string | false, nthreads = 1): number {
  const total = os.totalmem();
  if (value === false || value === 0 || value === '0' || value === 'false') return 0;
  if (value === 'auto') {
    return Math.floor(total * Math.min(1, nthreads / os.availableParallelism()));
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value <= 0) {
      throw new OptionError(`memoryLimit must be positive, got ${value}`);
    }
    return value <= 1 ? Math.floor(total * value) : Math.floor(value);
  }
  if (value.trim() !== '' && Number.isFinite(Number(value))) return parseMemoryLimit(Number(value));
  const m = /^\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = m ? UNITS[(m[2] || 'b').toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new OptionError(
      `memoryLimit "${value}" is not understood: use 'auto', a byte count, a size such as '4GB' or '512MiB', or a fraction such as 0.5`,
    );
  }
  const n = Number(m[1]);
  if (!m[2] && n <= 1) return Math.floor(total * n);
  return Math.floor(n * unit);
}

function positiveInt(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new OptionError(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Checks every option and fills defaults. */
export function resolveWorkerOptions(
  o: WorkerOptions,
): Required<
  Omit<
    WorkerOptions,
    | 'interface'
    | 'host'
    | 'local'
    | 'resources'
    | 'name'
    | 'localDirectory'
    | 'security'
    | 'lifetime'
    | 'memoryThresholds'
    | 'mpi'
  >
> &
  WorkerOptions & { memoryLimit: number; memoryThresholds: MemoryThresholds } {
  if (typeof o.scheduler !== 'string' || !/^tcp:\/\/.+:\d+$/.test(o.scheduler)) {
    throw new OptionError(
      `scheduler address must look like tcp://HOST:PORT, got ${JSON.stringify(o.scheduler)}`,
    );
  }
  const nthreads = positiveInt('nthreads', o.nthreads ?? WORKER_DEFAULTS.nthreads);
  const deathTimeout = o.deathTimeout ?? WORKER_DEFAULTS.deathTimeout;
  if (typeof deathTimeout !== 'number' || !(deathTimeout > 0)) {
    throw new OptionError(`deathTimeout must be a positive number of seconds, got ${deathTimeout}`);
  }
  if (o.lifetime !== undefined && (typeof o.lifetime !== 'number' || !(o.lifetime > 0))) {
    throw new OptionError(`lifetime must be a positive number of seconds, got ${o.lifetime}`);
  }
  if (o.resources) {
    for (const [k, v] of Object.entries(o.resources)) {
      if (typeof v !== 'number' || !(v >= 0)) {
        throw new OptionError(`resources.${k} must be a non-negative number, got ${v}`);
      }
    }
  }
  return {
    ...o,
    nthreads,
    deathTimeout,
    memoryLimit: parseMemoryLimit(o.memoryLimit ?? WORKER_DEFAULTS.memoryLimit, nthreads),
    memoryThresholds: resolveThresholds(o.memoryThresholds),
    heartbeatInterval: o.heartbeatInterval ?? WORKER_DEFAULTS.heartbeatInterval,
  };
}
