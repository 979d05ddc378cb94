import type { GangWire, RemoteError, WorkerInfoWire } from '../protocol';
import type { MemoryReport, WorkerMemory } from './memory';
import type { UnrunnableNotice } from './unrunnable';

/** The scheduler's task states, in the order a task moves through them. */
export const TASK_STATES = [
  'released',
  'waiting',
  'queued',
  'processing',
  'memory',
  'erred',
] as const;
export type TaskStateName = (typeof TASK_STATES)[number];

/** What the scheduler core needs to know of a task; `payload` is opaque (function id + frames). */
export interface SubmittedTask<P> {
  key: string;
  deps: string[];
  priority: number;
  retries: number;
  workers?: string[];
  resources?: Record<string, number>;
  /** What the task computes (function and arguments), for explicit keys: a resubmission of the key
   * with another fingerprint is a conflict. Absent for generated and content-hashed keys. */
  fingerprint?: string;
  /** A gang task (issue 21): runs at once on this many MPI worker ranks (gangs.ts); absent: an ordinary task. */
  ranks?: number;
  payload: P;
}

export interface TaskState<P> {
  key: string;
  state: TaskStateName;
  /** null for scattered data, which has no lineage to recompute it from. */
  payload: P | null;
  deps: ReadonlySet<string>;
  dependents: ReadonlySet<string>;
  /** deps not yet in memory (while waiting). */
  waitingOn: ReadonlySet<string>;
  /** dependents still to run that need this key in memory. */
  waiters: ReadonlySet<string>;
  /** Clients that want it; a set shared by many tasks while one client alone does (sets.ts). */
  wantedBy: ReadonlySet<string>;
  who: ReadonlySet<string>;
  processingOn: string | null;
  priority: number;
  seq: number;
  retries: number;
  suspicious: number;
  nbytes: number;
  error: RemoteError | null;
  inline: Buffer[] | null;
  workers?: string[];
  resources?: Record<string, number>;
  /** Where the task sits in the ready queue's heaps; -1 when it is not queued. */
  heapIndex: number;
  /**
   * How it enters its worker's pool, for KilledWorker (suspects.ts): 0, in sending order (its
   * inputs were there); below 0, minus the inputs still to reach its worker (it has not started);
   * above 0, the order in which its inputs were all there (it may have started out of order).
   */
  late: number;
  /** The restriction signature (its heap in the ready queue), computed when first queued. */
  signature?: string;
  fingerprint?: string;
  /** A gang task's size (>= 1: one rank still gets a communicator); absent for ordinary tasks. */
  ranks?: number;
  /**
   * While a gang task is processing: its members' worker ids in gang order. The first is
   * `processingOn` (gang rank 0, which reports the result); every member holds a slot.
   */
  gang?: string[];
  /** Counts by state of its task kind (shared by every task of the kind: progress, dashboard). */
  tally: Record<string, number>;
}

export interface WorkerState {
  id: string;
  info: WorkerInfoWire;
  processing: Set<string>;
  /**
   * Processing keys whose task waits on futures of its own client (it seceded, issue 22): it
   * holds no slot meanwhile. Always a subset of `processing`; see placement.ts occupied().
   */
  seceded: Set<string>;
  has: Set<string>;
  nbytes: number;
  lastSeen: number;
  used: Record<string, number>;
  /** Being retired: it gets no new tasks, and leaves once its data has other holders. */
  retiring: boolean;
  /** Keys of a retiring worker already asked of other workers (acquire-replicas). */
  moving: Set<string>;
  /** What its heartbeats say of its memory (memory.ts). */
  memory: WorkerMemory;
}

export type SchedulerEvent<P> =
  | { type: 'client-join'; client: string; now: number }
  | { type: 'client-leave'; client: string; reason: string }
  | { type: 'client-seen'; client: string; now: number }
  | { type: 'submit'; client: string; tasks: SubmittedTask<P>[] }
  | { type: 'release'; client: string; keys: string[] }
  | { type: 'cancel'; client: string; keys: string[] }
  | { type: 'scattered'; client: string; keys: string[]; workers: string[]; nbytes: number[] }
  | { type: 'worker-join'; worker: WorkerInfoWire; now: number }
  | { type: 'worker-leave'; worker: string; reason: string }
  | { type: 'worker-seen'; worker: string; now: number }
  /** A heartbeat's memory figures (issue 20). */
  | ({ type: 'worker-memory'; worker: string } & MemoryReport)
  | {
      type: 'task-finished';
      worker: string;
      key: string;
      nbytes: number;
      duration: number;
      inline: Buffer[] | null;
    }
  | { type: 'task-erred'; worker: string; key: string; error: RemoteError; duration: number }
  | { type: 'add-keys'; worker: string; keys: string[]; nbytes: number[] }
  /** A running task waits on futures (seceded: its slot is free) or goes on (rejoined). */
  | { type: 'task-seceded'; worker: string; key: string }
  | { type: 'task-rejoined'; worker: string; key: string }
  | { type: 'missing-data'; worker: string; key: string; dep: string; from: string }
  | { type: 'retire-workers'; workers: string[] }
  /** A client asks that held data be spread evenly (all keys, or only `keys`); `req` is its id. */
  | { type: 'rebalance'; client: string; req: number; keys: string[] | null; now: number }
  | { type: 'tick'; now: number };

export interface DepWhere {
  key: string;
  who: string[];
}

export type SchedulerAction<P> =
  | {
      type: 'compute';
      worker: string;
      key: string;
      payload: P;
      deps: DepWhere[];
      /** For a gang member: the members' MPI ranks in gang order, and this member's place. */
      gang?: GangWire;
    }
  | { type: 'free-keys'; worker: string; keys: string[] }
  | { type: 'cancel-compute'; worker: string; keys: string[] }
  | {
      type: 'key-done';
      client: string;
      key: string;
      who: string[];
      nbytes: number;
      inline: Buffer[] | null;
    }
  | { type: 'key-erred'; client: string; key: string; error: RemoteError }
  | { type: 'key-cancelled'; client: string; key: string }
  | { type: 'key-lost'; client: string; key: string }
  | { type: 'acquire-replicas'; worker: string; deps: DepWhere[] }
  /** A client's rebalance is over: keys moved and their bytes. */
  | { type: 'rebalanced'; client: string; req: number; moved: number; bytes: number }
  | { type: 'worker-removed'; worker: string; reason: string }
  | { type: 'client-removed'; client: string; reason: string }
  | { type: 'n-workers'; n: number }
  /** Tasks wait for a worker that none connected can be: warn (the scheduler log and `clients`). */
  | ({ type: 'unrunnable' } & UnrunnableNotice);

export interface SchedulerConfig {
  /** A worker not heard from for this long is removed (ms). */
  workerTtl: number;
  /** A client not heard from for this long is removed and its keys released (ms). */
  clientTtl: number;
  /** A task whose worker died this many times errs with ERR_KILLED_WORKER. */
  allowedFailures: number;
  /** Below this mean task duration (s), workers get extra tasks queued to hide latency. */
  pipelineBelow: number;
  /** Ticks further apart than this (ms) mean the scheduler was stalled; the gap is forgiven. */
  stallAfter: number;
  /** A ready task whose restrictions no connected worker meets this long (ms) is warned of. */
  unrunnableAfter: number;
}

export const DEFAULT_SCHEDULER_CONFIG: Readonly<SchedulerConfig> = Object.freeze({
  // As in Dask (distributed.scheduler.worker-ttl): minutes, since a process that died is noticed at
  // once (its connection closes, and sends to it fail); the TTL is for hosts that went silent.
  workerTtl: 300_000,
  clientTtl: 300_000,
  allowedFailures: 3,
  pipelineBelow: 0.01,
  stallAfter: 1000,
  // Workers of a cluster join over seconds: the one a task needs may not have joined yet.
  unrunnableAfter: 5000,
});

export interface Transition {
  key: string;
  from: TaskStateName | 'new' | 'forgotten';
  to: TaskStateName | 'forgotten';
  /** The stimulus: the event that caused it, numbered, with the peer it came from. */
  cause: string;
}

/** Every legal transition; any other is a bug in the core and throws with the task's story. */
export const LEGAL_TRANSITIONS: Readonly<Record<Transition['from'], readonly Transition['to'][]>> =
  {
    new: ['released'],
    released: ['waiting', 'memory', 'erred', 'forgotten'],
    waiting: ['queued', 'processing', 'released', 'erred'],
    queued: ['processing', 'waiting', 'released', 'erred'],
    processing: ['memory', 'released', 'erred'],
    memory: ['released'],
    erred: ['forgotten'],
    forgotten: [],
  };
