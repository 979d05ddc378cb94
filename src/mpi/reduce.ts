/** allreduce/reduce of typed arrays of any length, through int-counted MPI calls. */
import { planChunks } from './chunks';
import type { NativeAddon, NativeRequest } from './native';
import type { ReducibleArray } from './reduce-args';

export interface ReduceCall {
  native: NativeAddon;
  comm: number;
  /** Index into REDUCE_OPS. */
  op: number;
  /** null: allreduce. */
  root: number | null;
}

/**
 * Reduces `send` into `recv` (null where the result is not wanted: reduce off the root),
 * MAX_CHUNK elements per MPI call. The chunks are subarray views, so MPI reads and writes
 * the callers' memory itself. Every rank has the same length, so the same chunks.
 */
export async function reduceInChunks(
  call: ReduceCall,
  send: ReducibleArray,
  recv: ReducibleArray | null,
  wait: (request: NativeRequest) => Promise<void>,
): Promise<void> {
  const { native, comm, op, root } = call;
  for (const { offset, length } of planChunks(send.length)) {
    const whole = offset === 0 && length === send.length;
    const s = whole ? send : send.subarray(offset, offset + length);
    const r = whole || recv === null ? recv : recv.subarray(offset, offset + length);
    await wait(
      root === null
        ? native.iallreduce(comm, s, r as ReducibleArray, op)
        : native.ireduce(comm, s, r, op, root),
    );
  }
}
