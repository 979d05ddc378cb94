import { ClusterError, OptionError } from '../errors';

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

function rankOption(name: string, v: unknown, size: number): number {
  if (!Number.isInteger(v) || (v as number) < 0) {
    throw new OptionError(`${name} must be a rank (an integer from 0), got ${JSON.stringify(v)}`);
  }
  if ((v as number) >= size) {
    throw new ClusterError(
      'ERR_WORLD_TOO_SMALL',
      `${name} is ${v as number} but the job has ${size} rank(s) (0 to ${size - 1}): choose a smaller rank or launch more`,
    );
  }
  return v as number;
}

/**
 * Rank 1, as in dask-mpi; when that is the scheduler's or beyond the job, the lowest other rank;
 * in a one-rank job the scheduler's own.
 */
function defaultClientRank(size: number, schedulerRank: number): number {
  if (size === 1) return 0;
  return schedulerRank === 1 ? 0 : 1;
}

/**
 * The rank layout of a job of `size` ranks in a mode (above). A layout without a worker is
 * ERR_WORLD_TOO_SMALL, saying how many ranks it needs.
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
  const exclusive = o.exclusiveWorkers ?? true;
  const schedulerRank = rankOption('schedulerRank', o.schedulerRank ?? 0, size);
  const clientRank = withClient
    ? rankOption('clientRank', o.clientRank ?? defaultClientRank(size, schedulerRank), size)
    : null;
  const reserved = new Set([schedulerRank, ...(clientRank === null ? [] : [clientRank])]);
  const workerRanks = [...Array(size).keys()].filter((r) => !exclusive || !reserved.has(r));
  if (workerRanks.length === 0) {
    const roles = clientRank === null ? 'the scheduler' : 'the scheduler and the client';
    throw new ClusterError(
      'ERR_WORLD_TOO_SMALL',
      `${size} rank(s) leave no rank for a worker: ${roles} take ${reserved.size}; launch at least ${reserved.size + 1} ranks (e.g. mpirun -np ${reserved.size + 1}), or let those ranks run workers too (exclusiveWorkers: false, --inclusive-workers)`,
    );
  }
  return { size, schedulerRank, clientRank, workerRanks };
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
