import { jobQueueSuite } from './suite';

/** SGECluster against Son of Grid Engine (scripts/testbed/sge): jobs on this host, loopback. */
jobQueueSuite({
  kind: 'sge',
  workerInterface: 'lo',
  // h_rt is enforced to the second: the job is gone about 7 s after 5 s (sge/README).
  shortWalltime: '00:00:40',
  walltimeWaitMs: 90_000,
  tutorial: (bed) => ({
    // dask-jobqueue's SGECluster example, camel-cased.
    cores: 1,
    memory: '1GB',
    queue: 'all.q',
    walltime: '00:10:00',
    interface: 'lo',
    env: bed.env,
    schedulerOptions: { host: bed.schedulerHost },
  }),
});
