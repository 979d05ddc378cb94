import { OptionError } from '../errors';

/** `adapt()`: bounds in workers or in jobs, and how eagerly to follow the load. */
export interface AdaptOptions {
  /** Fewest workers (rounded up to whole jobs). Default 0. */
  minimum?: number;
  /** Most workers (rounded down to whole jobs). Default Infinity. */
  maximum?: number;
  minimumJobs?: number;
  maximumJobs?: number;
  /** How often the load is looked at (ms). Default 1000. */
  interval?: number;
  /** Intervals in a row that must want fewer jobs before any is removed. Default 3. */
  waitCount?: number;
  /** Jobs queued but not yet running that adapt allows at once. Default Infinity. */
  maximumPendingJobs?: number;
}

export interface AdaptBounds {
  minimumJobs: number;
  maximumJobs: number;
  interval: number;
  waitCount: number;
  maximumPendingJobs: number;
}

function count(name: string, v: unknown, allowInfinity: boolean): number | undefined {
  if (v === undefined) return undefined;
  const ok =
    typeof v === 'number' && v >= 0 && (Number.isInteger(v) || (allowInfinity && v === Infinity));
  if (!ok)
    throw new OptionError(`adapt ${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return v as number;
}

const KNOWN = [
  'minimum',
  'maximum',
  'minimumJobs',
  'maximumJobs',
  'interval',
  'waitCount',
  'maximumPendingJobs',
];

/** Checks the options and turns worker bounds into job bounds (`processes` workers a job). */
export function adaptBounds(o: AdaptOptions, processes: number): AdaptBounds {
  for (const k of Object.keys(o)) {
    if (!KNOWN.includes(k))
      throw new OptionError(`unknown adapt option "${k}"; known: ${KNOWN.join(', ')}`);
  }
  const min = count('minimum', o.minimum, false);
  const max = count('maximum', o.maximum, true);
  const minJobs = count('minimumJobs', o.minimumJobs, false);
  const maxJobs = count('maximumJobs', o.maximumJobs, true);
  if (
    (min !== undefined && minJobs !== undefined) ||
    (max !== undefined && maxJobs !== undefined)
  ) {
    throw new OptionError(
      'adapt: give bounds in workers (minimum/maximum) or in jobs (minimumJobs/maximumJobs), not both',
    );
  }
  const minimumJobs = minJobs ?? Math.ceil((min ?? 0) / processes);
  const maximumJobs = maxJobs ?? (max === undefined ? Infinity : Math.floor(max / processes));
  if (minimumJobs > maximumJobs) {
    throw new OptionError(
      `adapt: the minimum (${minimumJobs} jobs) is above the maximum (${maximumJobs} jobs)`,
    );
  }
  const interval = o.interval ?? 1000;
  if (typeof interval !== 'number' || !(interval >= 50)) {
    throw new OptionError(
      `adapt interval must be at least 50 ms, got ${JSON.stringify(o.interval)}`,
    );
  }
  return {
    minimumJobs,
    maximumJobs,
    interval,
    waitCount: count('waitCount', o.waitCount, false) ?? 3,
    maximumPendingJobs: count('maximumPendingJobs', o.maximumPendingJobs, true) ?? Infinity,
  };
}

export interface Load {
  /** Tasks not yet finished: waiting, queued, processing. */
  unfinished: number;
  threadsPerWorker: number;
  processes: number;
  /** Jobs that count now (pending or running, not being replaced or removed). */
  jobs: number;
}

/**
 * How many jobs to submit now toward `target`: never more pending at once than the cap
 * (dask-jobqueue #365: adapt filling a queue with hundreds of jobs that all wait).
 */
export function jobsToSubmit(
  target: number,
  active: number,
  pending: number,
  maximumPendingJobs: number,
): number {
  return Math.max(0, Math.min(target - active, maximumPendingJobs - pending));
}

/**
 * The number of jobs wanted: enough threads for every unfinished task, within the bounds. More
 * is followed at once; fewer only after `waitCount` looks in a row wanted fewer (no thrashing).
 * Pure: the caller keeps `below` (looks in a row that wanted fewer) between calls.
 */
export function adaptTarget(
  load: Load,
  b: AdaptBounds,
  below: number,
): { jobs: number; below: number } {
  const perJob = load.threadsPerWorker * load.processes;
  const wanted = Math.min(
    b.maximumJobs,
    Math.max(b.minimumJobs, Math.ceil(load.unfinished / perJob)),
  );
  if (wanted >= load.jobs) return { jobs: wanted, below: 0 };
  if (below + 1 >= b.waitCount) return { jobs: wanted, below: 0 };
  return { jobs: load.jobs, below: below + 1 };
}
