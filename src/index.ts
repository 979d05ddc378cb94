/**
 * mpi-cluster: distributed task computing for Node.js on HPC systems.
 */
export {
  Client,
  Future,
  TaskError,
  connect,
  fromModule,
  mpiProgram,
  progress,
  performanceReport,
  Variable,
  Queue,
  Event,
  Lock,
  Semaphore,
} from './client';
export type {
  ClientOptions,
  FutureStatus,
  ModuleFunction,
  MpiProgram,
  MpiProgramOptions,
  ProgramResult,
  ProgressOptions,
  TaskFunction,
  TaskOptions,
  ConnectTarget,
  Duration,
} from './client';
export { delayed, Delayed, compute, persist } from './graph';
// Tasks that submit tasks (issue 22, item 4): the executor thread's side of a task's client.
export { getClient, fireAndForget } from './worker/task-client';
export type {
  DelayedOptions,
  Lazy,
  LazyFunction,
  Computed,
  Persisted,
  GraphRunOptions,
} from './graph';
export {
  LocalCluster,
  LocalCUDACluster,
  type LocalClusterOptions,
  type LocalCUDAClusterOptions,
} from './cluster';
export {
  JobQueueCluster,
  SLURMCluster,
  PBSCluster,
  SGECluster,
  type JobReport,
  type JobState,
  type JobQueueOptions,
  type SLURMClusterOptions,
  type PBSClusterOptions,
  type SGEClusterOptions,
  type AdaptOptions,
  type SchedulerPlacement,
} from './jobqueue';
export { Scheduler, type SchedulerOptions } from './scheduler';
export { Worker, type WorkerOptions } from './worker';
export type { GangComm } from './worker/gang-comm';
export type { NumericArray, ReduceOp } from './worker/gang-messages';
export { ClusterError, OptionError, type ErrorCode } from './errors';
export type { SchedulerInfo, WorkerInfo } from './protocol';
export {
  initialize,
  execute,
  sendCloseSignal,
  placement,
  type InitializeOptions,
  type Placement,
  type PlacementOptions,
} from './bootstrap';
