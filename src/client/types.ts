/** The client's options and the types that give submit, map and gather their shapes. */
import type { Future } from './future';
import type { Security } from '../net';
import type { GangComm } from '../worker/gang-comm';

export interface ClientOptions {
  /** Scheduler address, tcp://host:port. */
  address: string;
  /** How long to wait for the scheduler to answer (ms). */
  timeout?: number;
  name?: string;
  /**
   * How long the scheduler may stay silent (ms, default 60 s; it answers every heartbeat, sent
   * every 2 s) before this client counts it gone: every pending future and request then fails
   * with ERR_SCHEDULER_GONE.
   */
  schedulerTimeout?: number;
  /**
   * The cluster's keys (from its scheduler file or LocalCluster), or false for a scheduler run
   * without security. Absent: MPI_CLUSTER_KEYS, else no security.
   */
  security?: Security;
}

/** A value, or a Future of it, also inside arrays and plain objects (futures are dependencies). */
type Deep<T> =
  | T
  | Future<T>
  | (T extends readonly unknown[]
      ? { [I in keyof T]: Deep<T[I]> }
      : T extends Record<string, unknown>
        ? { [K in keyof T]: Deep<T[K]> }
        : never);
export type Args<F> = F extends (...args: infer A) => unknown
  ? { [I in keyof A]: Deep<A[I]> }
  : unknown[];
/** What map takes for a function: one iterable per parameter, of values or futures of them. */
export type MapArgs<F> = F extends (...args: infer A) => unknown
  ? { [I in keyof A]: Iterable<Deep<A[I]>> }
  : Iterable<unknown>[];
/** What gather returns for a structure of futures: the same shape with each Future's value. */
export type Gathered<T> =
  T extends Future<infer R>
    ? R
    : T extends readonly unknown[]
      ? { [I in keyof T]: Gathered<T[I]> }
      : T extends Record<string, unknown>
        ? { [K in keyof T]: Gathered<T[K]> }
        : T;
export type Ret<F> = F extends (...args: never[]) => infer R ? Awaited<R> : unknown;

/** A gang task's function: the gang's communicator first, then the task's arguments. */
export type GangFunction = (comm: GangComm, ...args: never[]) => unknown;
/** A gang task's arguments: the function's parameters after the communicator. */
export type GangArgs<F> = F extends (comm: GangComm, ...args: infer A) => unknown
  ? { [I in keyof A]: Deep<A[I]> }
  : unknown[];
/** What map takes for a gang function: one iterable per parameter after the communicator. */
export type GangMapArgs<F> = F extends (comm: GangComm, ...args: infer A) => unknown
  ? { [I in keyof A]: Iterable<Deep<A[I]>> }
  : Iterable<unknown>[];

export interface ScatterOptions {
  /** A copy on every worker (or every one named in `workers`). */
  broadcast?: boolean;
  /** Worker ids, names or hosts to place the data on. */
  workers?: string[];
}
