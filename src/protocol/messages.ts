/**
 * The wire protocol: every ZeroMQ message is `[header, ...frames]` (after the routing id on a
 * ROUTER). The header is JSON `{ v, ops }`; each op may own `nf` binary frames, taken in order.
 * Ops are batched: one ZeroMQ message carries every op queued for a peer in one event-loop turn.
 */
export const PROTOCOL_VERSION = 1;

/** A function travels by value (its source) or by reference (module path + export name). */
export type FnSpec =
  | {
      kind: 'source';
      source: string;
      name: string;
      /** Absolute directory `require` inside the function resolves from (the submitting file's). */
      dir?: string;
    }
  | { kind: 'module'; module: string; export: string };

export interface RemoteError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  worker?: string;
  key?: string;
}

export interface TaskSpecWire {
  key: string;
  fn: string; // id of a function defined earlier with define-fn
  deps: string[];
  priority: number;
  retries: number;
  workers?: string[];
  resources?: Record<string, number>;
  /** Fingerprint of function and arguments, sent for explicit keys only (conflict check). */
  fp?: string;
  /** A gang task (issue 21): it runs at once on this many MPI worker ranks (>= 1). */
  ranks?: number;
  nf: number; // frames of the packed arguments
}

/** A worker that is an MPI process of a job: its rank in the cluster's communicator. */
export interface WorkerMpiWire {
  rank: number;
  size: number;
  /** The same for every rank of one MPI job (and different across jobs). */
  job: string;
}

/** What a member of a gang is told with its compute: who the members are and which it is. */
export interface GangWire {
  /** The members' ranks in the cluster's communicator, in gang order (gang rank 0 first). */
  ranks: number[];
  /** This member's place in `ranks` (its rank in the gang's communicator). */
  index: number;
}

export interface WorkerInfoWire {
  id: string;
  name: string;
  host: string;
  address: string;
  nthreads: number;
  memoryLimit: number;
  pid: number;
  localDirectory: string;
  resources?: Record<string, number>;
  /** Set when the worker runs in an MPI rank's own process (initialize(), mpi-init). */
  mpi?: WorkerMpiWire;
}

/**
 * What a coordination request asks of the scheduler (issue 22: Variable, Queue, Event, Lock,
 * Semaphore, datasets). One op type carries them all; `action` says which, checked on receipt.
 */
export const COORD_ACTIONS = [
  'var-set',
  'var-get',
  'var-delete',
  'queue-put',
  'queue-get',
  'queue-size',
  'event-set',
  'event-clear',
  'event-wait',
  'event-is-set',
  'lock-acquire',
  'lock-release',
  'lock-locked',
  'sem-acquire',
  'sem-release',
  'sem-value',
  'dataset-publish',
  'dataset-get',
  'dataset-list',
  'dataset-unpublish',
  /** fireAndForget(future): the scheduler wants the key (name) until it is in memory or erred. */
  'fire-and-forget',
] as const;
export type CoordAction = (typeof COORD_ACTIONS)[number];

export interface DepLocation {
  key: string;
  who: string[]; // peer addresses of workers that hold it
}

/** Every op, by sender. `nf` counts the binary frames that follow in order. */
export type Op =
  // client -> scheduler
  | { t: 'hello-client'; id: string; name: string }
  | { t: 'define-fn'; id: string; spec: FnSpec }
  | { t: 'submit'; task: TaskSpecWire }
  | { t: 'release'; keys: string[] }
  | { t: 'cancel'; keys: string[] }
  | { t: 'scattered'; keys: string[]; workers: string[]; nbytes: number[] }
  | { t: 'who-has'; req: number; keys: string[] }
  | { t: 'info'; req: number }
  /** Move held data between workers toward even bytes held (all keys, or only `keys`). */
  | { t: 'rebalance'; req: number; keys?: string[] }
  /**
   * From a worker it also carries its CPU (fraction of a core), resident memory and bytes fetched
   * from other workers (totals), and the fetches since its last heartbeat: start, end (ms since
   * the epoch) and bytes of each, flat.
   */
  | {
      t: 'heartbeat';
      cpu?: number;
      rss?: number;
      /** Longest event-loop delay of the worker's main thread since its previous heartbeat (s). */
      lag?: number;
      transferBytes?: number;
      xfer?: number[];
      /**
       * Memory (issue 20), from workers: bytes of stored values held in memory (managed), bytes
       * and count of values spilled to disk, and 1 while paused (above the pause threshold: it
       * starts no task, the scheduler places nothing there), 0 otherwise. Process memory is rss;
       * unmanaged = rss - managed.
       */
      managed?: number;
      spilled?: number;
      spilledCount?: number;
      paused?: number;
    }
  | { t: 'shutdown' }
  | { t: 'bye' }
  /**
   * A coordination request (issue 22). `name` names the primitive (per kind); `token` tells a
   * Lock's or Semaphore's holders apart within one client; `timeout` (ms) bounds a wait (absent:
   * wait until served, or the scheduler's end); `max` is a Queue's maxsize or a Semaphore's
   * leases; `override` (1) replaces a published dataset; a value travels packed in `nf` frames,
   * with the keys of the futures inside it in `keys` (the scheduler keeps those alive).
   */
  | {
      t: 'coord';
      req: number;
      action: CoordAction;
      name: string;
      token?: string;
      timeout?: number;
      max?: number;
      override?: number;
      keys?: string[];
      nf: number;
    }
  /** This client holds futures of these keys now (handed over by a coordination reply). */
  | { t: 'want-keys'; keys: string[] }
  // worker -> scheduler (besides register, results, heartbeat, bye): its lifetime is up
  | { t: 'retire' }
  /**
   * The dashboard's /profile (issue 24): scheduler -> worker, profile the executor threads for
   * `ms`; worker -> scheduler, the merged call tree as JSON (worker/profile.ts's ProfileTree).
   */
  | { t: 'profile'; req: number; ms: number }
  | { t: 'profile-data'; req: number; tree: string }
  // scheduler -> client
  | {
      t: 'welcome';
      schedulerId: string;
      address: string;
      nWorkers: number;
      http?: string;
      dashboard?: string;
    }
  | { t: 'key-done'; key: string; who: string[]; nbytes: number; nf: number }
  | { t: 'key-erred'; key: string; error: RemoteError }
  | { t: 'key-cancelled'; key: string }
  | { t: 'key-lost'; key: string }
  | { t: 'who-has-reply'; req: number; who: Record<string, string[]> }
  | { t: 'info-reply'; req: number; info: SchedulerInfo }
  /** The rebalance is over: keys moved, and their bytes. */
  | { t: 'rebalance-reply'; req: number; moved: number; bytes: number }
  | { t: 'n-workers'; n: number }
  /**
   * A coordination request's answer: a value in `nf` frames, `flag` (1/0: acquired, set, locked),
   * `n` (a count), `names` (datasets), or a coded `error` (a timeout, a limit, a misuse).
   */
  | {
      t: 'coord-reply';
      req: number;
      nf: number;
      flag?: number;
      n?: number;
      names?: string[];
      error?: RemoteError;
    }
  /**
   * A task of this client waits for a worker that none connected can be (its `workers` or
   * `resources` restriction): what it asks, and the scheduler's words on what the workers offer.
   */
  | {
      t: 'task-unrunnable';
      key: string;
      message: string;
      workers?: string[];
      resources?: Record<string, number>;
    }
  /** The peer is dropped: the cluster closes, or this peer was removed (code ERR_REMOVED). */
  | { t: 'closing'; reason: string; code?: string }
  // worker -> scheduler
  | { t: 'register'; worker: WorkerInfoWire }
  | { t: 'task-finished'; key: string; nbytes: number; duration: number; nf: number }
  | { t: 'task-erred'; key: string; error: RemoteError; duration: number }
  | { t: 'add-keys'; keys: string[]; nbytes: number[] }
  | { t: 'missing-data'; key: string; dep: string; from: string }
  /**
   * A running task waits on futures of its own client and gives its slot back (Dask's secede,
   * done for the user: worker/task-client.ts), or goes on (rejoined).
   */
  | { t: 'long-running'; key: string }
  | { t: 'rejoined'; key: string }
  // scheduler -> worker
  | { t: 'registered'; schedulerId: string }
  | { t: 'compute'; key: string; fn: string; deps: DepLocation[]; nf: number; gang?: GangWire }
  | { t: 'free-keys'; keys: string[] }
  | { t: 'cancel-compute'; keys: string[] }
  /** Fetch these keys from their holders (a retiring worker's data) and report add-keys. */
  | { t: 'acquire-replicas'; deps: DepLocation[] }
  // peer data service (worker ROUTER; workers and clients connect)
  /** `bulk`: the requester's bulk receiver (net/bulk.ts), for large values when security is on. */
  | { t: 'get-data'; req: number; keys: string[]; bulk?: string }
  | { t: 'data'; req: number; key: string; nf: number }
  /** Where the worker's bulk port is: the requester connects its bulk receiver there. */
  | { t: 'bulk-at'; req: number; address: string }
  /** The value comes on the bulk channel as transfer `id`, sealed with `seal` (net/bulk-seal.ts). */
  | {
      t: 'data-bulk';
      req: number;
      key: string;
      id: number;
      seal: string;
      lens: number[];
    }
  | { t: 'no-data'; req: number; key: string }
  | { t: 'data-end'; req: number }
  | { t: 'put-data'; req: number; key: string; nf: number }
  | { t: 'put-ack'; req: number; keys: string[] }
  | { t: 'ping'; req: number }
  | { t: 'pong'; req: number };

export type OpType = Op['t'];
export type OpOf<T extends OpType> = Extract<Op, { t: T }>;

/** A worker as the scheduler reports it: what it registered with, plus live figures. */
export interface WorkerInfo extends WorkerInfoWire {
  lastSeen: number;
  processing: number;
  inMemory: number;
  /** Bytes of the results it holds, in memory or spilled (the scheduler's count). */
  nbytes: number;
  /**
   * Memory (issue 20), Dask's names: bytes of stored values in memory (managed), the rest of its
   * process's memory (unmanaged), bytes and count of values spilled to disk, and whether it is
   * paused (above its pause threshold: it is given no task). Managed is its last report carried
   * forward by results stored and freed since; the others are as last reported (0 before).
   */
  managed: number;
  unmanaged: number;
  spilled: number;
  spilledCount: number;
  paused: boolean;
}

export interface SchedulerInfo {
  address: string;
  id: string;
  started: number;
  workers: Record<string, WorkerInfo>;
  tasks: Record<string, number>;
}

/** An op together with its binary frames, as decoded or as queued for sending. */
export interface Envelope {
  op: Op;
  frames: Buffer[];
}
