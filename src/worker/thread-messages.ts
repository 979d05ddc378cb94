import type { FnSpec, RemoteError } from '../protocol';

/** Main thread -> executor thread. */
export interface ThreadTask {
  key: string;
  fnId: string;
  /** Sent the first time a thread sees this function. */
  spec?: FnSpec;
  args: Uint8Array[];
  deps: [string, Uint8Array[]][];
}

/** Executor thread -> main thread. */
export interface ThreadResult {
  key: string;
  frames?: Uint8Array[];
  error?: RemoteError;
  duration: number;
}
