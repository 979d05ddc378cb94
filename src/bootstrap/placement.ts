import { ClusterError, OptionError } from '../errors';
import { BOOTSTRAP_DEFAULTS } from './defaults';

/** What runs on one MPI rank. */
export type Role = 'scheduler' | 'client' | 'worker';

/** Where the scheduler, the client and the workers go in an MPI job (dask-mpi's execute()). */
export interface PlacementOptions {
  /** The rank that runs the scheduler. Default 0. */
  schedulerRank?: number;
  /**
   * The rank that runs the client (the script, or execute's function); may equal schedulerRank.
   * Default 1 (0 when the scheduler is on 1 or the job has one rank).
   */
  clientRank?: number;
  /**
   * true (default): workers only on the other ranks. false: the scheduler's and the client's
   * ranks run a worker too, so no rank of the allocation is left without one.
   */
  exclusiveWorkers?: boolean;
}

/**
 * 'client': a scheduler's rank and a client's rank (initialize, the script of mpi-init);
 * 'file': a scheduler's rank that writes the scheduler file, clients connect from elsewhere;
 * 'workers': every rank a worker of a scheduler outside the job (mpi-init --no-scheduler).
 */
export type PlacementMode = 'client' | 'file' | 'workers';

export interface Placement {
  size: number;
  /** -1: the scheduler is outside this job ('workers'). */
  schedulerRank: number;
  /** null: no client rank (scheduler-file mode: clients connect from elsewhere). */
  clientRank: number | null;
  /** The ranks that run a worker, in order: the worker count the client waits for. */
  workerRanks: number[];
}

/** A rank option: an integer from 0 (its range in the job is checked with the layout). */
function rankOption(name: string, v: unknown): number | undefined {
  if (v !== undefined && (!Number.isInteger(v) || (v as number) < 0)) {
    throw new OptionError(`${name} must be a rank (an integer from 0), got ${JSON.stringify(v)}`);
  }
  return v as number | undefined;
}

/**
 * Rank 1, as in dask-mpi; when that is the scheduler's or beyond the job, the lowest other rank;
 * in a one-rank job the scheduler's own.
 */
function defaultClientRank(size: number, schedulerRank: number): number {
  if (size === 1) return 0;
  return schedulerRank === BOOTSTRAP_DEFAULTS.clientRank ? 0 : BOOTSTRAP_DEFAULTS.clientRank;
}

/** The checked options of a layout with a scheduler in the job. */
interface Asked {
  schedulerRank: number;
  clientRank: number | undefined;
  withClient: boolean;
  exclusive: boolean;
}

/** The layout of `size` ranks, without checking that its ranks fit in the job. */
function layout(size: number, a: Asked): Placement {
  const clientRank = a.withClient
    ? (a.clientRank ?? defaultClientRank(size, a.schedulerRank))
    : null;
  const reserved = new Set([a.schedulerRank, ...(clientRank === null ? [] : [clientRank])]);
  const workerRanks = [...Array(size).keys()].filter((r) => !a.exclusive || !reserved.has(r));
  return { size, schedulerRank: a.schedulerRank, clientRank, workerRanks };
}

/** Whether the layout's ranks are in the job and one of them runs a worker. */
function works(p: Placement): boolean {
  return (
    p.schedulerRank < p.size &&
    (p.clientRank === null || p.clientRank < p.size) &&
    p.workerRanks.length > 0
  );
}

/**
 * The fewest ranks the layout asked for needs. Found by trying sizes, since the default client
 * rank moves with the size (a one-rank job's client is its scheduler's rank, a larger one's is 1).
 * Ends: at most two ranks are reserved, so any size beyond them leaves one for a worker.
 */
function ranksNeeded(a: Asked): number {
  let n = 1;
  while (!works(layout(n, a))) n++;
  return n;
}

/**
 * The rank layout of a job of `size` ranks in a mode (above). A layout whose ranks are beyond the
 * job, or that leaves no rank for a worker, is ERR_WORLD_TOO_SMALL, saying how many ranks it needs.
 */
export function placement(
  size: number,
  o: PlacementOptions = {},
  mode: PlacementMode = 'client',
): Placement {
  if (mode === 'workers') {
    if (o.schedulerRank !== undefined || o.clientRank !== undefined) {
      throw new OptionError(
        'with a scheduler outside the job every rank is a worker: leave out the scheduler and client ranks',
      );
    }
    return { size, schedulerRank: -1, clientRank: null, workerRanks: [...Array(size).keys()] };
  }
  const withClient = mode === 'client';
  if (o.exclusiveWorkers !== undefined && typeof o.exclusiveWorkers !== 'boolean') {
    throw new OptionError(
      `exclusiveWorkers must be true or false, got ${JSON.stringify(o.exclusiveWorkers)}`,
    );
  }
  if (!withClient && o.clientRank !== undefined) {
    throw new OptionError(
      'clientRank: this job has no client rank (clients connect to the scheduler file)',
    );
  }
  const asked: Asked = {
    schedulerRank: rankOption('schedulerRank', o.schedulerRank) ?? BOOTSTRAP_DEFAULTS.schedulerRank,
    clientRank: rankOption('clientRank', o.clientRank),
    withClient,
    exclusive: o.exclusiveWorkers ?? BOOTSTRAP_DEFAULTS.exclusiveWorkers,
  };
  const p = layout(size, asked);
  if (works(p)) return p;
  const needed = ranksNeeded(asked);
  for (const [name, rank] of [
    ['schedulerRank', p.schedulerRank],
    ['clientRank', p.clientRank],
  ] as const) {
    if (rank !== null && rank >= size) {
      throw new ClusterError(
        'ERR_WORLD_TOO_SMALL',
        `${name} is ${rank} but the job has ${size} rank(s) (0 to ${size - 1}): choose a smaller rank or launch at least ${needed} ranks (e.g. mpirun -np ${needed})`,
      );
    }
  }
  const whose =
    p.clientRank === null ? "the scheduler's rank" : "the scheduler's and the client's ranks";
  throw new ClusterError(
    'ERR_WORLD_TOO_SMALL',
    `${size} rank(s) leave no rank for a worker (${describePlacement(p)}): launch at least ${needed} ranks (e.g. mpirun -np ${needed}, placed ${describePlacement(layout(needed, asked))}), or let ${whose} run workers too (exclusiveWorkers: false, --inclusive-workers)`,
  );
}

/** The roles of `rank`, the scheduler first, then the client, then the worker. */
export function rolesOf(p: Placement, rank: number): Role[] {
  const roles: Role[] = [];
  if (rank === p.schedulerRank) roles.push('scheduler');
  if (rank === p.clientRank) roles.push('client');
  if (p.workerRanks.includes(rank)) roles.push('worker');
  return roles;
}

/** One line per rank for logs and docs: "0: scheduler+worker, 1: client+worker, 2: worker". */
export function describePlacement(p: Placement): string {
  return [...Array(p.size).keys()].map((r) => `${r}: ${rolesOf(p, r).join('+')}`).join(', ');
}
