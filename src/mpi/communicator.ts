import { setMaxListeners } from 'events';
import { writeSync } from 'fs';
import { ClusterError } from '../errors';
import {
  checkBytes,
  checkColor,
  checkExitCode,
  checkGroupRanks,
  checkInt32,
  checkRank,
  checkRootBytes,
  checkTag,
} from './args';
import {
  INT_MAX,
  LENGTH_BYTES,
  decodeLength,
  encodeLength,
  gatherLayout,
  planChunks,
} from './chunks';
import type { NativeAddon, NativeRequest } from './native';
import { GANG_SPIN_MS, waitFor } from './poll';
import { PointToPoint } from './p2p';
import { SerialQueue } from './queue';
import { reduceInChunks } from './reduce';
import {
  allocLike,
  checkOp,
  checkReduceOperands,
  type ReduceOp,
  type ReducibleArray,
} from './reduce-args';

/**
 * A group of ranks that run collectives together (MPI_Comm). Get one from `world()`,
 * `split()` or `createGroup()`. Collectives must be called by every rank of the
 * communicator in the same order; the async forms are queued per communicator so that
 * multi-step operations (length, then data) never interleave. Point-to-point send/recv
 * are not in that queue (see send()).
 */
export class Communicator {
  /** This process's rank in the communicator. */
  readonly rank: number;
  /** Number of ranks in the communicator. */
  readonly size: number;
  private freed = false;
  /** Aborted by abandon(): stops every wait and rejects what is queued. */
  private readonly stop = new AbortController();
  private readonly collectives = new SerialQueue(this.stop.signal);
  private readonly messages: PointToPoint;

  /** @internal Use world() or split(). */
  constructor(
    private readonly native: NativeAddon,
    /** @internal The addon's communicator handle (0 = COMM_WORLD). */
    readonly handle: number,
    /** @internal How long waits poll without sleeping (waitFor): a group's spin, else 0. */
    private readonly spinMs = 0,
  ) {
    this.rank = native.rank(handle);
    this.size = native.size(handle);
    // Every concurrent send and receive listens for abandon(); no leak warning at 11.
    setMaxListeners(0, this.stop.signal);
    this.messages = new PointToPoint(native, handle, this.stop.signal, (r) => this.wait(r));
  }

  /**
   * Broadcasts `data` from `root` to every rank; any length (0 B up to what a Buffer
   * holds). Non-root ranks pass null and receive a new Buffer; the root gets its data back.
   */
  // The async methods validate and enqueue before their first await, i.e. in call order;
  // invalid arguments reject the returned promise.
  async bcast(data: Buffer | Uint8Array | null | undefined, root = 0): Promise<Buffer> {
    const { buffer } = this.checkBcast(data, root);
    return this.enqueue(async () => {
      const header = buffer ? encodeLength(buffer.length) : Buffer.alloc(LENGTH_BYTES);
      await this.wait(this.native.ibcast(this.handle, header, root));
      const out = buffer ?? Buffer.allocUnsafe(decodeLength(header));
      for (const { offset, length } of planChunks(out.length)) {
        const chunk = out.subarray(offset, offset + length);
        await this.wait(this.native.ibcast(this.handle, chunk, root));
      }
      return out;
    });
  }

  /** Blocking bcast: blocks the event loop (and spins a core) until done. */
  bcastSync(data: Buffer | Uint8Array | null | undefined, root = 0): Buffer {
    const { buffer } = this.checkBcast(data, root);
    this.checkIdle('bcastSync');
    const header = buffer ? encodeLength(buffer.length) : Buffer.alloc(LENGTH_BYTES);
    this.native.bcast(this.handle, header, root);
    const out = buffer ?? Buffer.allocUnsafe(decodeLength(header));
    for (const { offset, length } of planChunks(out.length)) {
      this.native.bcast(this.handle, out.subarray(offset, offset + length), root);
    }
    return out;
  }

  /** Resolves once every rank has entered the barrier; the event loop keeps running. */
  async barrier(): Promise<void> {
    this.checkLive();
    return this.enqueue(() => this.wait(this.native.ibarrier(this.handle)));
  }

  barrierSync(): void {
    this.checkLive();
    this.checkIdle('barrierSync');
    this.native.barrier(this.handle);
  }

  /**
   * Every rank contributes a buffer (lengths may differ); every rank receives all of them,
   * indexed by rank. The results are views into one receive buffer. The total must fit an
   * int count (2 GiB - 1); otherwise every rank throws RangeError.
   */
  async allgather(data: Buffer | Uint8Array): Promise<Buffer[]> {
    this.checkLive();
    const send = checkBytes('data', data);
    return this.enqueue(async () => {
      const lengths = Buffer.alloc(LENGTH_BYTES * this.size);
      await this.wait(this.native.iallgather(this.handle, encodeLength(send.length), lengths));
      const layout = this.layout(lengths);
      const recv = Buffer.allocUnsafe(layout.total);
      if (layout.total > 0) {
        const { counts, displs } = layout;
        await this.wait(this.native.iallgatherv(this.handle, send, recv, counts, displs));
      }
      return this.blocks(recv, layout);
    });
  }

  allgatherSync(data: Buffer | Uint8Array): Buffer[] {
    this.checkLive();
    const send = checkBytes('data', data);
    this.checkIdle('allgatherSync');
    const lengths = Buffer.alloc(LENGTH_BYTES * this.size);
    this.native.allgather(this.handle, encodeLength(send.length), lengths);
    const layout = this.layout(lengths);
    const recv = Buffer.allocUnsafe(layout.total);
    if (layout.total > 0) {
      this.native.allgatherv(this.handle, send, recv, layout.counts, layout.displs);
    }
    return this.blocks(recv, layout);
  }

  /**
   * Collective: ranks with the same `color` form a new communicator, ordered by `key`
   * (default: rank here). A null color returns null (MPI_UNDEFINED).
   */
  split(color: number | null, key: number = this.rank): Communicator | null {
    this.checkLive();
    const c = checkColor(color);
    const k = checkInt32('key', key);
    this.checkIdle('split');
    const handle = this.native.split(this.handle, c, k);
    return handle < 0 ? null : new Communicator(this.native, handle);
  }

  /**
   * A new communicator of the listed ranks of this one, in that order (new rank i is
   * `ranks[i]`); blocks until every listed rank has called it with the same `ranks` and
   * `tag` (MPI_Comm_create_group). Only the listed ranks take part: the others go on with
   * their own work, and groups of other ranks may be created at the same time. The caller
   * must be listed; ranks are distinct; tag is 0..32767 and must differ between groups
   * whose creation may overlap on a rank. Like split(), not while async collectives of
   * this communicator are still running. Its waits spin for GANG_SPIN_MS before backing off.
   */
  createGroup(ranks: readonly number[], tag: number): Communicator {
    this.checkLive();
    const members = checkGroupRanks(ranks, this.size, this.rank);
    const t = checkTag('tag', tag);
    this.checkIdle('createGroup');
    const handle = this.native.createGroup(this.handle, members, t);
    return new Communicator(this.native, handle, GANG_SPIN_MS);
  }

  /**
   * Element-wise reduction over every rank; every rank gets the result. `data` is a number
   * (resolves a number) or a typed array (not Uint8ClampedArray) of the same type and
   * length on every rank (MPI's rule: a mismatch is undefined behaviour, not an error).
   * Resolves a new array of data's type, or fills and resolves `out` (same type and
   * length, not overlapping data). MPI reads data and writes the result in place, with no
   * copy, on SharedArrayBuffers too; pass an `out` on a SharedArrayBuffer for a shared
   * result. Integer sums wrap as in C. Arrays over INT_MAX elements go in several calls.
   */
  allreduce(data: number, op: ReduceOp): Promise<number>;
  allreduce<T extends ReducibleArray>(data: T, op: ReduceOp, out?: T): Promise<T>;
  async allreduce(
    data: number | ReducibleArray,
    op: ReduceOp,
    out?: ReducibleArray,
  ): Promise<number | ReducibleArray> {
    return (await this.reduceTo(data, op, null, out)) as number | ReducibleArray;
  }

  /**
   * As allreduce, but only `root` gets the result; the other ranks resolve null (their
   * `out`, checked the same way, is left untouched).
   */
  reduce(data: number, op: ReduceOp, root?: number): Promise<number | null>;
  reduce<T extends ReducibleArray>(
    data: T,
    op: ReduceOp,
    root?: number,
    out?: T,
  ): Promise<T | null>;
  async reduce(
    data: number | ReducibleArray,
    op: ReduceOp,
    root = 0,
    out?: ReducibleArray,
  ): Promise<number | ReducibleArray | null> {
    return this.reduceTo(data, op, root, out);
  }

  /**
   * Every rank's buffer (lengths may differ, 0 included) to `root`, which resolves them
   * indexed by rank (views into one receive buffer); the others resolve null. The lengths
   * go to every rank first, so that all throw the same RangeError together when the total
   * passes INT_MAX bytes.
   */
  async gather(data: Buffer | Uint8Array, root = 0): Promise<Buffer[] | null> {
    this.checkLive();
    const send = checkBytes('data', data);
    const r = checkRank('root', root, this.size);
    return this.enqueue(async () => {
      const lengths = Buffer.alloc(LENGTH_BYTES * this.size);
      await this.wait(this.native.iallgather(this.handle, encodeLength(send.length), lengths));
      const layout = this.layout(lengths, 'gather');
      const recv = Buffer.allocUnsafe(this.rank === r ? layout.total : 0);
      if (layout.total > 0) {
        const { counts, displs } = layout;
        await this.wait(this.native.igatherv(this.handle, send, recv, counts, displs, r));
      }
      return this.rank === r ? this.blocks(recv, layout) : null;
    });
  }

  /**
   * Sends the bytes of `data` to rank `dest` as one message with `tag` (0..32767); at most
   * INT_MAX bytes (RangeError above: split larger data yourself). Resolves once MPI is done
   * with `data` (do not change it before); for a large message that is when `dest` receives
   * it. Sends start at once, in call order, outside the collectives' queue: messages to one
   * rank with one tag arrive in the order sent (MPI's non-overtaking rule).
   */
  async send(data: Buffer | Uint8Array, dest: number, tag = 0): Promise<void> {
    this.checkLive();
    const bytes = checkBytes('data', data);
    const d = checkRank('dest', dest, this.size);
    const t = checkTag('tag', tag);
    if (bytes.length > INT_MAX) {
      throw new RangeError(
        `data is ${bytes.length} bytes; one message holds at most INT_MAX = ${INT_MAX} bytes`,
      );
    }
    return this.messages.send(bytes, d, t);
  }

  /**
   * The next message from rank `source` with `tag` (0..32767), of whatever length it has:
   * MPI_Improbe is polled until one is there, then MPI_Imrecv receives it into a new
   * Buffer of its size. Receives with the same source and tag match messages in call order
   * (each waits for the one before); others run independently, outside the collectives'
   * queue.
   */
  async recv(source: number, tag = 0): Promise<Buffer> {
    this.checkLive();
    const s = checkRank('source', source, this.size);
    const t = checkTag('tag', tag);
    return this.messages.recv(s, t);
  }

  /**
   * Gives up on this communicator after a failure elsewhere (e.g. another rank of a gang
   * threw): every async operation in flight or queued rejects with `reason`, polling
   * stops, and every later call rejects (async) or throws (sync) `reason`. Nothing is
   * cancelled in MPI (it cannot cancel a collective): operations in flight stay pending
   * with their memory referenced for ever, and the communicator is never freed. The first
   * reason wins; later calls of abandon() do nothing.
   */
  abandon(reason: Error): void {
    if (!(reason instanceof Error)) {
      throw new TypeError(`reason must be an Error, got ${typeof reason}`);
    }
    if (!this.stop.signal.aborted) this.stop.abort(reason);
  }

  /**
   * Releases a communicator made by split() or createGroup(); collective over its ranks.
   * Not while any of its async operations is unsettled, nor once abandoned.
   */
  free(): void {
    if (this.handle === 0) throw new RangeError('the world communicator cannot be freed');
    this.checkLive();
    this.checkIdle('free');
    if (this.messages.pending > 0) {
      throw new ClusterError(
        'ERR_MPI',
        `free() called while ${this.messages.pending} send(s)/recv(s) on this communicator are ` +
          `still running; await them first`,
      );
    }
    this.native.free(this.handle);
    this.freed = true;
  }

  /**
   * Prints `message` (with the rank) to stderr, then MPI_Abort: mpirun ends every rank
   * of the job with a non-zero status.
   */
  abort(code = 1, message?: string): never {
    const exitCode = checkExitCode(code);
    if (message !== undefined) {
      writeSync(2, `mpi-cluster: rank ${this.rank}/${this.size}: abort(${exitCode}): ${message}\n`);
    }
    this.native.abort(this.handle, exitCode);
    process.exit(exitCode); // MPI_Abort does not return; this only runs if it did
  }

  private checkBcast(data: unknown, root: unknown): { buffer: Buffer | null } {
    this.checkLive();
    const r = checkRank('root', root, this.size);
    return { buffer: checkRootBytes('data', data, this.rank === r) };
  }

  private layout(lengths: Buffer, operation?: string): ReturnType<typeof gatherLayout> {
    const values = Array.from({ length: this.size }, (_, i) => decodeLength(lengths, i));
    return gatherLayout(values, operation);
  }

  /** allreduce (root null) and reduce: validate now, run queued. */
  private async reduceTo(
    data: unknown,
    op: unknown,
    root: unknown,
    out: unknown,
  ): Promise<number | ReducibleArray | null> {
    this.checkLive();
    const opNumber = checkOp(op);
    const r = root === null ? null : checkRank('root', root, this.size);
    const { send, out: given, scalar } = checkReduceOperands(data, out);
    const gets = r === null || r === this.rank;
    return this.enqueue(async () => {
      const recv = gets ? (given ?? allocLike(send)) : null;
      const call = { native: this.native, comm: this.handle, op: opNumber, root: r };
      await reduceInChunks(call, send, recv, (request) => this.wait(request));
      if (recv === null) return null;
      return scalar ? (recv[0] as number) : recv;
    });
  }

  private wait(request: NativeRequest): Promise<void> {
    return waitFor(request, this.stop.signal, this.spinMs);
  }

  private blocks(recv: Buffer, layout: ReturnType<typeof gatherLayout>): Buffer[] {
    return Array.from(layout.counts, (count, i) =>
      recv.subarray(layout.displs[i], layout.displs[i] + count),
    );
  }

  private checkLive(): void {
    if (this.stop.signal.aborted) throw this.stop.signal.reason;
    if (this.freed) {
      throw new ClusterError('ERR_MPI', `communicator ${this.handle} has been freed`);
    }
  }

  // A blocking collective issued while an async one is still queued would be matched
  // against the wrong operation on the other ranks.
  private checkIdle(operation: string): void {
    const pending = this.collectives.pending;
    if (pending > 0) {
      throw new ClusterError(
        'ERR_MPI',
        `${operation}() called while ${pending} asynchronous collective(s) on this ` +
          `communicator are still running; await them first`,
      );
    }
  }

  private enqueue<T>(operation: () => Promise<T>): Promise<T> {
    return this.collectives.run(operation);
  }
}
