/**
 * The surface of the compiled addon (native/*.cc). Communicators are integer handles,
 * 0 = MPI_COMM_WORLD. Nothing here validates arguments beyond memory safety: the
 * wrappers in this folder do that before calling in.
 */
import type { ErrorCode } from '../errors';
import type { ReducibleArray } from './reduce-args';

/** A pending nonblocking operation; it keeps its buffers alive until test() returns true. */
export interface NativeRequest {
  /** MPI_Test: true once complete (and on every later call). Drives MPI progress. */
  test(): boolean;
}

export interface NativeAddon {
  /** Errors thrown by the addon are built as `new errorClass(code, message)`. */
  setErrorClass(errorClass: new (code: ErrorCode, message: string) => Error): void;
  /** MPI_Init_thread; levels 0..3 = single, funneled, serialized, multiple. Returns the provided level. */
  init(threadLevel: number): number;
  initialized(): boolean;
  finalized(): boolean;
  finalize(): void;
  processorName(): string;
  /** MPI_Get_library_version; callable before init and after finalize. */
  libraryVersion(): string;
  /** "Open MPI", "MPICH", "Intel MPI", "MVAPICH" (compile-time macros), else from the version string. */
  vendor(): string;

  rank(comm: number): number;
  size(comm: number): number;
  /** MPI_Comm_split; a negative color is MPI_UNDEFINED and returns -1 (no communicator). */
  split(comm: number, color: number, key: number): number;
  free(comm: number): void;
  abort(comm: number, code: number): void;

  barrier(comm: number): void;
  ibarrier(comm: number): NativeRequest;
  /** Whole buffer in one call: length <= INT_MAX. */
  bcast(comm: number, buffer: Buffer, root: number): void;
  ibcast(comm: number, buffer: Buffer, root: number): NativeRequest;
  /** recv holds size * send.length bytes. */
  allgather(comm: number, send: Buffer, recv: Buffer): void;
  iallgather(comm: number, send: Buffer, recv: Buffer): NativeRequest;
  allgatherv(
    comm: number,
    send: Buffer,
    recv: Buffer,
    counts: Int32Array,
    displs: Int32Array,
  ): void;
  iallgatherv(
    comm: number,
    send: Buffer,
    recv: Buffer,
    counts: Int32Array,
    displs: Int32Array,
  ): NativeRequest;

  /** MPI_Igatherv to root; recv, counts and displs are only read on root. */
  igatherv(
    comm: number,
    send: Buffer,
    recv: Buffer,
    counts: Int32Array,
    displs: Int32Array,
    root: number,
  ): NativeRequest;

  /**
   * MPI_Comm_create_group of `ranks` of comm (new rank i = ranks[i]), blocking and
   * collective over those ranks only; returns the new handle. The caller must be listed.
   */
  createGroup(comm: number, ranks: Int32Array, tag: number): number;

  /**
   * Element-wise MPI_Iallreduce of send into recv: same element type and length
   * (<= INT_MAX elements); op is an index into REDUCE_OPS. Neither array is copied.
   */
  iallreduce(comm: number, send: ReducibleArray, recv: ReducibleArray, op: number): NativeRequest;
  /** MPI_Ireduce; recv is required on root and may be null elsewhere. */
  ireduce(
    comm: number,
    send: ReducibleArray,
    recv: ReducibleArray | null,
    op: number,
    root: number,
  ): NativeRequest;

  /** MPI_Isend of data's bytes (<= INT_MAX). */
  isend(comm: number, data: Buffer, dest: number, tag: number): NativeRequest;
  /**
   * MPI_Improbe for a message from source with tag: null when none is there yet; else the
   * message is matched and MPI_Imrecv into `data` (a new Buffer of its size) has started.
   */
  improbeRecv(
    comm: number,
    source: number,
    tag: number,
  ): { request: NativeRequest; data: Buffer } | null;
}
