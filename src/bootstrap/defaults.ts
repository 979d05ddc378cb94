/** initialize()'s and mpi-init's defaults, in one place (their help and TSDoc read them here). */
export const BOOTSTRAP_DEFAULTS = Object.freeze({
  /** The rank that runs the scheduler. */
  schedulerRank: 0,
  /** The rank that runs the client: 1, as in dask-mpi (0 when the scheduler is on 1). */
  clientRank: 1,
  /** Workers only on the ranks that run neither the scheduler nor the client. */
  exclusiveWorkers: true,
  /** How long the client's rank waits for every worker to register (ms). */
  timeout: 60_000,
});
