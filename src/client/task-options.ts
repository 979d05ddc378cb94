import { MAX_RANKS, MAX_RETRIES } from '../protocol/schema';
import { OptionError } from '../errors';

/** Per-task options, passed with `submitWith(options, fn, ...args)` / `mapWith`. */
export interface TaskOptions {
  /** Explicit key (unique per task); with `mapWith` a prefix. */
  key?: string;
  /** Same function and arguments give the same key, so the result is computed once. Default false. */
  pure?: boolean;
  /** Times to run the task again after it throws. Default 0. */
  retries?: number;
  /** Higher runs first among queued tasks. Default 0. */
  priority?: number;
  /** Abstract resources one run needs, e.g. { GPU: 1 }; only workers offering them run it. */
  resources?: Record<string, number>;
  /** Worker names, ids, hosts or addresses allowed to run it. */
  workers?: string | string[];
  /**
   * A gang task: it runs at once on this many MPI worker ranks, each calling `fn(comm, ...args)`
   * with a communicator of the gang's own; its result is every rank's return, in rank order.
   * Only clusters whose workers are MPI ranks of one job (initialize(), mpi-init) run gangs.
   */
  ranks?: number;
}

export interface ResolvedTaskOptions {
  key?: string;
  pure: boolean;
  retries: number;
  priority: number;
  resources?: Record<string, number>;
  workers?: string[];
  ranks?: number;
}

const KNOWN = new Set(['key', 'pure', 'retries', 'priority', 'resources', 'workers', 'ranks']);

export function validateTaskOptions(o: TaskOptions): ResolvedTaskOptions {
  if (typeof o !== 'object' || o === null) throw new OptionError('task options must be an object');
  for (const k of Object.keys(o)) {
    if (!KNOWN.has(k)) {
      throw new OptionError(`unknown task option "${k}"; known: ${[...KNOWN].join(', ')}`);
    }
  }
  if (o.key !== undefined && (typeof o.key !== 'string' || o.key.length === 0)) {
    throw new OptionError('options.key must be a non-empty string');
  }
  const retries = o.retries ?? 0;
  if (!Number.isInteger(retries) || retries < 0 || retries > MAX_RETRIES) {
    throw new OptionError(
      `options.retries must be an integer from 0 to ${MAX_RETRIES}, got ${o.retries}`,
    );
  }
  const priority = o.priority ?? 0;
  if (typeof priority !== 'number' || !Number.isFinite(priority)) {
    throw new OptionError(`options.priority must be a finite number, got ${o.priority}`);
  }
  if (o.resources !== undefined) {
    if (typeof o.resources !== 'object' || o.resources === null) {
      throw new OptionError('options.resources must be an object such as { GPU: 1 }');
    }
    for (const [r, v] of Object.entries(o.resources)) {
      if (typeof v !== 'number' || !(v > 0)) {
        throw new OptionError(`options.resources.${r} must be a positive number, got ${v}`);
      }
    }
  }
  const workers = o.workers === undefined ? undefined : [o.workers].flat();
  if (workers && !workers.every((w) => typeof w === 'string')) {
    throw new OptionError('options.workers must be a string or an array of strings');
  }
  if (
    o.ranks !== undefined &&
    !(
      typeof o.ranks === 'number' &&
      Number.isInteger(o.ranks) &&
      o.ranks >= 1 &&
      o.ranks <= MAX_RANKS
    )
  ) {
    throw new OptionError(
      `options.ranks must be an integer from 1 to ${MAX_RANKS} (the MPI worker ranks the task runs on at once), got ${String(o.ranks)}`,
    );
  }
  const { key, resources, ranks } = o;
  return { key, pure: o.pure === true, retries, priority, resources, workers, ranks };
}
