/**
 * What a gang task's thread and its worker's main thread say to each other over the task's
 * MessagePort (issue 21). MPI is called from the main thread only (funnelled): the thread asks,
 * the main thread runs the nonblocking MPI call, polls it and answers. Typed arrays travel on
 * SharedArrayBuffers, so neither side copies them; other values travel serialized (v8).
 */
import type { MessagePort } from 'node:worker_threads';

/** The reduction operations of allreduce and reduce, element-wise on typed arrays. */
export type ReduceOp = 'sum' | 'min' | 'max' | 'prod';
export const REDUCE_OPS: readonly ReduceOp[] = ['sum', 'min', 'max', 'prod'];

/** The typed arrays reductions take (Uint8ClampedArray has no MPI datatype). */
export type NumericArray =
  | Float64Array
  | Float32Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** A value crossing the port: a number, a typed array on shared memory, or v8-serialized bytes. */
export type Carried =
  | { k: 'number'; n: number }
  | { k: 'typed'; ctor: string; a: NumericArray }
  | { k: 'bytes'; b: Uint8Array };

/** Thread -> main: one operation on the gang's communicator; `id` pairs it with its answer. */
export type GangRequest =
  | { id: number; op: 'barrier' }
  | { id: number; op: 'bcast'; root: number; value: Carried | null }
  | {
      id: number;
      op: 'reduce';
      root: number;
      all: boolean;
      red: ReduceOp;
      value: Carried;
      /** Where the result goes: the caller's own array on shared memory (else a new one). */
      out?: NumericArray;
    }
  | { id: number; op: 'gather'; root: number; all: boolean; value: Uint8Array }
  | { id: number; op: 'send'; dest: number; tag: number; value: Uint8Array }
  | { id: number; op: 'recv'; source: number; tag: number };

/** Main -> thread: the operation's result (null where this rank gets none), or its error. */
export type GangReply =
  | { id: number; ok: true; value: Carried | Uint8Array[] | null }
  | { id: number; ok: false; error: { name: string; message: string; code?: string } };

/** What a gang task's thread gets with its task: the port, and its place in the gang. */
export interface GangSeat {
  port: MessagePort;
  rank: number;
  size: number;
}
