import type { FnSpec, RemoteError } from '../protocol';
import type { ClusterKeys } from '../net/security';
import type { GangSeat } from './gang-messages';
import type { ProfileTree } from './profile';

/**
 * Bytes a batch of tiny tasks carries at most, both ways: the pool stops a batch before its
 * inputs pass it, and a thread answers once its results pass it and hands the batch's tasks it
 * has not started back (`returned`). A message between threads is copied whole and holds its
 * results until the last task of the batch ends: 48 tiny tasks making 32 MB each once grew one
 * thread by 1.5 GB before the worker's memory manager saw any of it.
 */
export const BATCH_BYTES = 1 << 20;

/** Main thread -> executor thread (a batch of these in one message). */
export interface ThreadTask {
  /** The pool's run id: answers are matched by it, since a thread may run several at once. */
  run: number;
  key: string;
  fnId: string;
  /** Sent the first time a thread sees this function. */
  spec?: FnSpec;
  args: Uint8Array[];
  deps: [string, Uint8Array[]][];
  /** A gang task's member: its port to the main thread's MPI calls, and its rank (gang.ts). */
  gang?: GangSeat;
}

/** Executor thread -> main thread: how one run ended. */
export interface ThreadResult {
  run: number;
  key: string;
  frames?: Uint8Array[];
  error?: RemoteError;
  duration: number;
  /** It seceded at some point: its duration includes waits on other tasks. */
  waited?: true;
  /** A gang member other than rank 0 ended its part: its value went to rank 0, none is kept here. */
  part?: true;
}

/**
 * Executor thread -> main thread: runs that ended (several in one message while tasks are tiny),
 * or a run that started waiting on futures of its thread's client (seceded: its slot may take
 * more work) or stopped waiting (rejoined).
 */
export type ThreadReply =
  /** `returned`: runs of the batch not started, handed back to the pool to send again. */
  | { t: 'results'; results: ThreadResult[]; returned?: number[] }
  | { t: 'seceded'; run: number }
  | { t: 'rejoined'; run: number }
  | { t: 'profile'; id: number; tree: ProfileTree };

/** Main thread -> executor thread, besides task batches: profile what runs for `ms`. */
export interface ThreadProfileRequest {
  t: 'profile';
  id: number;
  ms: number;
}

/** What the pool gives each executor thread (workerData): how its tasks' client connects. */
export interface ThreadData {
  /** The scheduler's address (a worker's options.scheduler); null: no client for tasks. */
  scheduler: string | null;
  /** The cluster's keys, in memory only (never a command line, env var or file); null: none. */
  keys: ClusterKeys | null;
}
