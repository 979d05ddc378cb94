import { LEONARDO } from '../fixtures/tutorials';
import { jobQueueSuite } from './suite';

/**
 * SLURMCluster against the project's Slurm test bed: three emulated hosts with ib0 (network
 * namespaces); the scheduler and client in the root namespace, as on a login node without ib0,
 * bound to the bridge address the hosts reach.
 */
jobQueueSuite({
  kind: 'slurm',
  workerInterface: 'ib0',
  // Slurm counts --time in whole minutes and enforces it on a timer: 1-2 minutes.
  shortWalltime: '00:01:00',
  walltimeWaitMs: 150_000,
  // The Leonardo tutorial's call, as given; the bed only adds where its scheduler listens.
  tutorial: (bed) => ({ ...LEONARDO, env: bed.env, schedulerOptions: { host: bed.schedulerHost } }),
});
