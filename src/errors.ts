/**
 * Errors with stable codes. Tests and callers match on `code`, never on message text.
 * Messages say what happened, which input caused it, and what to do.
 */
export type ErrorCode =
  | 'ERR_ADDON_MISSING'
  | 'ERR_MPI'
  | 'ERR_MPI_NOT_INITIALIZED'
  | 'ERR_INVALID_OPTION'
  | 'ERR_INTERFACE_NOT_FOUND'
  | 'ERR_NO_ROUTE'
  | 'ERR_WORLD_TOO_SMALL'
  | 'ERR_TIMEOUT'
  | 'ERR_WORKER_LOST'
  | 'ERR_KILLED_WORKER'
  | 'ERR_TASK_FAILED'
  | 'ERR_THREAD_EXITED'
  | 'ERR_CANCELLED'
  | 'ERR_CLOSURE'
  | 'ERR_TASK_REQUIRE'
  | 'ERR_SERIALIZE'
  | 'ERR_PROTOCOL'
  | 'ERR_CLIENT_CLOSED'
  | 'ERR_SCHEDULER_FILE'
  | 'ERR_SCHEDULER_GONE'
  | 'ERR_REMOVED'
  | 'ERR_KEY_CONFLICT'
  | 'ERR_INTERNAL'
  | 'ERR_SECURITY'
  | 'ERR_BOOTSTRAP'
  | 'ERR_BATCH'
  | 'ERR_JOB_FAILED'
  | 'ERR_NO_GPU'
  | 'ERR_SPILL'
  | 'ERR_TASK_MEMORY'
  /** Gang tasks (issue 21): no worker is an MPI rank of a job; more ranks than the job has. */
  | 'ERR_GANG_NO_MPI'
  | 'ERR_GANG_TOO_LARGE'
  /** A gang's communicator after another member failed or the task was cancelled. */
  | 'ERR_GANG_ABANDONED'
  /** mpiProgram: neither srun (inside a Slurm allocation) nor an mpirun/mpiexec on PATH. */
  | 'ERR_NO_LAUNCHER'
  /**
   * Coordination (issue 22): a name, value, count or wait over the scheduler's bounds
   * (scheduler/coordination.ts COORD_LIMITS); a release of a Lock or Semaphore lease not held,
   * or a Queue or Semaphore named again with another size; a dataset name already published, or
   * none published under it; no client to use (none connected in this process).
   */
  | 'ERR_COORD_LIMIT'
  | 'ERR_COORD_MISUSE'
  | 'ERR_DATASET_EXISTS'
  | 'ERR_DATASET_MISSING'
  | 'ERR_NO_CLIENT'
  /** getClient() called outside a task running on a worker (issue 22, item 4). */
  | 'ERR_NOT_IN_TASK'
  /**
   * Sealed bulk transfers (issue 23, item 4, net/bulk-seal.ts): a bulk message that is not a
   * sealed piece of the transfer due; a piece whose tag does not verify (changed on the way, or
   * not sealed with the transfer's key); a piece of a transfer already complete, or again.
   */
  | 'ERR_BULK_FRAME'
  | 'ERR_BULK_AUTH'
  | 'ERR_BULK_REPLAY';

export class ClusterError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'ClusterError';
  }
}

/** A broken invariant inside the scheduler: a bug, after which its state cannot be trusted. */
export class InvariantError extends ClusterError {
  constructor(message: string) {
    super('ERR_INTERNAL', message);
    this.name = 'InvariantError';
  }
}

/** An option failed validation at a public boundary. */
export class OptionError extends ClusterError {
  constructor(message: string) {
    super('ERR_INVALID_OPTION', message);
    this.name = 'OptionError';
  }
}
