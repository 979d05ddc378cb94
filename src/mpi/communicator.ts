import { writeSync } from 'fs';
import { ClusterError } from '../errors';
import {
  checkBytes,
  checkColor,
  checkExitCode,
  checkInt32,
  checkRank,
  checkRootBytes,
} from './args';
import { LENGTH_BYTES, decodeLength, encodeLength, gatherLayout, planChunks } from './chunks';
import type { NativeAddon } from './native';
import { waitFor } from './poll';

/**
 * A group of ranks that run collectives together (MPI_Comm). Get one from `world()` or
 * `split()`. Collectives must be called by every rank of the communicator in the same
 * order; the async forms are queued per communicator so that multi-step operations
 * (length, then data) never interleave.
 */
export class Communicator {
  /** This process's rank in the communicator. */
  readonly rank: number;
  /** Number of ranks in the communicator. */
  readonly size: number;
  private queue: Promise<unknown> = Promise.resolve();
  private pending = 0;
  private freed = false;

  /** @internal Use world() or split(). */
  constructor(
    private readonly native: NativeAddon,
    /** @internal The addon's communicator handle (0 = COMM_WORLD). */
    readonly handle: number,
  ) {
    this.rank = native.rank(handle);
    this.size = native.size(handle);
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
      await waitFor(this.native.ibcast(this.handle, header, root));
      const out = buffer ?? Buffer.allocUnsafe(decodeLength(header));
      for (const { offset, length } of planChunks(out.length)) {
        const chunk = out.subarray(offset, offset + length);
        await waitFor(this.native.ibcast(this.handle, chunk, root));
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
    return this.enqueue(() => waitFor(this.native.ibarrier(this.handle)));
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
      await waitFor(this.native.iallgather(this.handle, encodeLength(send.length), lengths));
      const layout = this.layout(lengths);
      const recv = Buffer.allocUnsafe(layout.total);
      if (layout.total > 0) {
        const { counts, displs } = layout;
        await waitFor(this.native.iallgatherv(this.handle, send, recv, counts, displs));
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

  /** Releases a communicator made by split(); collective over its ranks. */
  free(): void {
    if (this.handle === 0) throw new RangeError('the world communicator cannot be freed');
    this.checkLive();
    this.checkIdle('free');
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

  private layout(lengths: Buffer): ReturnType<typeof gatherLayout> {
    const values = Array.from({ length: this.size }, (_, i) => decodeLength(lengths, i));
    return gatherLayout(values);
  }

  private blocks(recv: Buffer, layout: ReturnType<typeof gatherLayout>): Buffer[] {
    return Array.from(layout.counts, (count, i) =>
      recv.subarray(layout.displs[i], layout.displs[i] + count),
    );
  }

  private checkLive(): void {
    if (this.freed) {
      throw new ClusterError('ERR_MPI', `communicator ${this.handle} has been freed`);
    }
  }

  // A blocking collective issued while an async one is still queued would be matched
  // against the wrong operation on the other ranks.
  private checkIdle(operation: string): void {
    if (this.pending > 0) {
      throw new ClusterError(
        'ERR_MPI',
        `${operation}() called while ${this.pending} asynchronous collective(s) on this ` +
          `communicator are still running; await them first`,
      );
    }
  }

  private enqueue<T>(operation: () => Promise<T>): Promise<T> {
    this.pending++;
    const result = this.queue.then(operation).finally(() => {
      this.pending--;
    });
    this.queue = result.catch(() => undefined);
    return result;
  }
}
