import type { FnSpec, RemoteError } from '../protocol';
import type { GangSeat } from './gang-messages';

/** Main thread -> executor thread. */
export interface ThreadTask {
  key: string;
  fnId: string;
  /** Sent the first time a thread sees this function. */
  spec?: FnSpec;
  args: Uint8Array[];
  deps: [string, Uint8Array[]][];
  /** A gang task's member: its port to the main thread's MPI calls, and its rank (gang.ts). */
  gang?: GangSeat;
}

/** Executor thread -> main thread. */
export interface ThreadResult {
  key: string;
  frames?: Uint8Array[];
  error?: RemoteError;
  duration: number;
  /** A gang member other than rank 0 ended its part: its value went to rank 0, none is kept here. */
  part?: true;
}
