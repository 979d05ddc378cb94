/**
 * mpi-cluster: distributed task computing for Node.js on HPC systems.
 *
 * The values below load with the first use of their name, not with this module (issue 23): a rank
 * of an MPI job loads its own role's modules (a worker no scheduler, client or dashboard code),
 * which took a third of its time from launch to its first task.
 */
import type * as client from './client';
import type * as graph from './graph';
import type * as taskClient from './worker/task-client';
import type * as cluster from './cluster';
import type * as jobqueue from './jobqueue';
import type * as scheduler from './scheduler';
import type * as worker from './worker';
import type * as bootstrap from './bootstrap';

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
export type {
  DelayedOptions,
  Lazy,
  LazyFunction,
  Computed,
  Persisted,
  GraphRunOptions,
} from './graph';
export type { LocalClusterOptions, LocalCUDAClusterOptions } from './cluster';
export type {
  JobReport,
  JobState,
  JobQueueOptions,
  SLURMClusterOptions,
  PBSClusterOptions,
  SGEClusterOptions,
  AdaptOptions,
  SchedulerPlacement,
} from './jobqueue';
export type { SchedulerOptions } from './scheduler';
export type { WorkerOptions } from './worker';
export type { GangComm } from './worker/gang-comm';
export type { NumericArray, ReduceOp } from './worker/gang-messages';
export { ClusterError, OptionError, type ErrorCode } from './errors';
export type { SchedulerInfo, WorkerInfo } from './protocol';
export type { InitializeOptions, Placement, PlacementOptions } from './bootstrap';

// Each class's value and instance type; each function's value.
export declare const Client: typeof client.Client;
export type Client = client.Client;
export declare const Future: typeof client.Future;
export type Future<T = unknown> = client.Future<T>;
export declare const TaskError: typeof client.TaskError;
export type TaskError = client.TaskError;
export declare const connect: typeof client.connect;
export declare const fromModule: typeof client.fromModule;
export declare const mpiProgram: typeof client.mpiProgram;
export declare const progress: typeof client.progress;
export declare const performanceReport: typeof client.performanceReport;
export declare const Variable: typeof client.Variable;
export type Variable<T = unknown> = client.Variable<T>;
export declare const Queue: typeof client.Queue;
export type Queue<T = unknown> = client.Queue<T>;
export declare const Event: typeof client.Event;
export type Event = client.Event;
export declare const Lock: typeof client.Lock;
export type Lock = client.Lock;
export declare const Semaphore: typeof client.Semaphore;
export type Semaphore = client.Semaphore;
export declare const delayed: typeof graph.delayed;
export declare const Delayed: typeof graph.Delayed;
export type Delayed<T = unknown> = graph.Delayed<T>;
export declare const compute: typeof graph.compute;
export declare const persist: typeof graph.persist;
// Tasks that submit tasks (issue 22, item 4): the executor thread's side of a task's client.
export declare const getClient: typeof taskClient.getClient;
export declare const fireAndForget: typeof taskClient.fireAndForget;
export declare const LocalCluster: typeof cluster.LocalCluster;
export type LocalCluster = cluster.LocalCluster;
export declare const LocalCUDACluster: typeof cluster.LocalCUDACluster;
export type LocalCUDACluster = cluster.LocalCUDACluster;
export declare const JobQueueCluster: typeof jobqueue.JobQueueCluster;
export type JobQueueCluster = jobqueue.JobQueueCluster;
export declare const SLURMCluster: typeof jobqueue.SLURMCluster;
export type SLURMCluster = jobqueue.SLURMCluster;
export declare const PBSCluster: typeof jobqueue.PBSCluster;
export type PBSCluster = jobqueue.PBSCluster;
export declare const SGECluster: typeof jobqueue.SGECluster;
export type SGECluster = jobqueue.SGECluster;
export declare const Scheduler: typeof scheduler.Scheduler;
export type Scheduler = scheduler.Scheduler;
export declare const Worker: typeof worker.Worker;
export type Worker = worker.Worker;
export declare const initialize: typeof bootstrap.initialize;
export declare const execute: typeof bootstrap.execute;
export declare const sendCloseSignal: typeof bootstrap.sendCloseSignal;
export declare const placement: typeof bootstrap.placement;

const LAZY: Record<string, () => Record<string, unknown>> = {
  './client': () => require('./client'),
  './graph': () => require('./graph'),
  './worker/task-client': () => require('./worker/task-client'),
  './cluster': () => require('./cluster'),
  './jobqueue': () => require('./jobqueue'),
  './scheduler': () => require('./scheduler'),
  './worker': () => require('./worker'),
  './bootstrap': () => require('./bootstrap'),
};
const FROM: Record<string, string[]> = {
  './client': [
    'Client',
    'Future',
    'TaskError',
    'connect',
    'fromModule',
    'mpiProgram',
    'progress',
    'performanceReport',
    'Variable',
    'Queue',
    'Event',
    'Lock',
    'Semaphore',
  ],
  './graph': ['delayed', 'Delayed', 'compute', 'persist'],
  './worker/task-client': ['getClient', 'fireAndForget'],
  './cluster': ['LocalCluster', 'LocalCUDACluster'],
  './jobqueue': ['JobQueueCluster', 'SLURMCluster', 'PBSCluster', 'SGECluster'],
  './scheduler': ['Scheduler'],
  './worker': ['Worker'],
  './bootstrap': ['initialize', 'execute', 'sendCloseSignal', 'placement'],
};
// Node's `import { Client } from 'mpi-cluster'` finds a CommonJS module's names by assignments
// like these (cjs-module-lexer); the getters below then replace them.
exports.Client =
  exports.Future =
  exports.TaskError =
  exports.connect =
  exports.fromModule =
  exports.mpiProgram =
  exports.progress =
  exports.performanceReport =
  exports.Variable =
  exports.Queue =
  exports.Event =
  exports.Lock =
  exports.Semaphore =
  exports.delayed =
  exports.Delayed =
  exports.compute =
  exports.persist =
  exports.getClient =
  exports.fireAndForget =
  exports.LocalCluster =
  exports.LocalCUDACluster =
  exports.JobQueueCluster =
  exports.SLURMCluster =
  exports.PBSCluster =
  exports.SGECluster =
  exports.Scheduler =
  exports.Worker =
  exports.initialize =
  exports.execute =
  exports.sendCloseSignal =
  exports.placement =
    undefined;
for (const [from, names] of Object.entries(FROM)) {
  for (const name of names) {
    Object.defineProperty(exports, name, {
      enumerable: true,
      configurable: true,
      get: () => LAZY[from]()[name],
    });
  }
}
