export {
  JobQueueCluster,
  SLURMCluster,
  PBSCluster,
  SGECluster,
  type JobReport,
  type SLURMClusterOptions,
  type PBSClusterOptions,
  type SGEClusterOptions,
} from './cluster';
export type { AdaptOptions } from './adapt';
export type { JobQueueOptions, SchedulerPlacement } from './options';
export type { JobState } from './systems';
export { cleanup, readLedgers, type LedgerEntry } from './ledger';
