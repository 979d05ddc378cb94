import type { DepLocation, RemoteError } from '../protocol';

/**
 * What the worker's state machine knows of a task assigned to it. `waiting`: inputs are being
 * fetched; `executing`: handed to the thread pool (queued there or running); `cancelled`: the
 * scheduler took it back while it ran, its run is given a grace to end; `terminating`: its
 * thread is being terminated.
 */
export type TaskStateName = 'waiting' | 'executing' | 'cancelled' | 'terminating';

/** An input to bring here: `fetch` until a request goes out, `flight` while one is out. */
export type DepStateName = 'fetch' | 'flight';

export interface WorkerTask<P> {
  key: string;
  state: TaskStateName;
  /** Opaque to the state machine (the driver's function and argument frames). */
  payload: P;
  deps: DepLocation[];
  /** Inputs not here yet (while waiting). */
  waitingOn: Set<string>;
  /** The current run's id (-1 before it is handed to the pool). */
  run: number;
  /** A compute that came while the old run was being stopped (terminated, or a gang's cancelled): it starts after. */
  next: { payload: P; deps: DepLocation[] } | null;
  /** Arrival order: tasks whose inputs come together run in this order. */
  seq: number;
}

export interface WorkerDep {
  key: string;
  state: DepStateName;
  /** The holder asked now (in flight), else ''. */
  holder: string;
  /** Holders not asked yet, in the scheduler's order. */
  candidates: string[];
  /** Holders that were asked and did not send it. */
  tried: string[];
  /** Tasks here waiting for it. */
  waiters: Set<string>;
  /** Wanted for its own sake (acquire-replicas), with or without waiters. */
  replica: boolean;
}

export interface Stored<D> {
  value: D;
  nbytes: number;
}

export interface Received<D> {
  key: string;
  value: D;
  nbytes: number;
}

/** Fields every event carries: the time (ms) and, optionally, what caused it (for story()). */
interface Stimulus {
  now: number;
  stimulusId?: string;
}

export type WorkerEvent<P, D> = Stimulus &
  /**
   * `fresh`: never take over a cancelled run of the key still going here (a gang task's new
   * attempt: the old run's communicator was abandoned, so its result is not this one's).
   */
  (
    | { type: 'compute'; key: string; payload: P; deps: DepLocation[]; fresh?: boolean }
    | { type: 'cancel-compute'; keys: string[] }
    | { type: 'free-keys'; keys: string[] }
    | { type: 'acquire-replicas'; deps: DepLocation[] }
    | { type: 'put-data'; key: string; value: D; nbytes: number }
    /** A get-data to `holder` for `keys` ended; `got` is what it sent. */
    | { type: 'fetch-done'; holder: string; keys: string[]; got: Received<D>[] }
    | { type: 'fetch-failed'; holder: string; keys: string[]; reason: string }
    | { type: 'task-result'; key: string; run: number; value: D; nbytes: number; duration: number }
    | { type: 'task-error'; key: string; run: number; error: RemoteError; duration: number }
    /** A gang member other than rank 0 ended its part: nothing to keep or report (issue 21). */
    | { type: 'task-part'; key: string; run: number }
    /** The thread running `run` died (or was terminated); the run is lost. */
    | { type: 'thread-died'; key: string; run: number; reason: string }
    /** The pool dropped `run` before it started (after cancel-run). */
    | { type: 'run-dropped'; key: string; run: number }
    /** The grace given to a cancelled run is over. */
    | { type: 'grace-over'; key: string; run: number }
  );

export type WorkerAction<P, D> =
  | { type: 'fetch'; holder: string; keys: string[] }
  | { type: 'run'; key: string; run: number; payload: P; deps: [string, D][] }
  /** Drop `run` if it has not started; else wait `graceMs` and send grace-over. */
  | { type: 'cancel-run'; key: string; run: number; graceMs: number }
  /** Terminate the thread running `run` (it reports thread-died). */
  | { type: 'terminate'; key: string; run: number }
  | { type: 'task-finished'; key: string; nbytes: number; duration: number }
  | { type: 'task-erred'; key: string; error: RemoteError; duration: number }
  | { type: 'missing-data'; key: string; dep: string; from: string }
  | { type: 'add-keys'; keys: string[]; nbytes: number[] };

export type StoryState = TaskStateName | DepStateName | 'new' | 'memory' | 'missing' | 'forgotten';

export interface WorkerTransition {
  key: string;
  from: StoryState;
  to: StoryState;
  /** The event type, with its stimulus id when it had one. */
  cause: string;
  now: number;
}
