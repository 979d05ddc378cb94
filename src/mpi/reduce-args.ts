/**
 * Argument rules of allreduce and reduce: the operations, the typed arrays they take and
 * the `out` array. Pure. The MPI datatype of each element type is chosen in one place on
 * the native side (native/reduce.cc's table); this file only decides what may reach it.
 */

/** Element-wise reduction operations. The index is the addon's op number (native/reduce.cc). */
export type ReduceOp = 'sum' | 'min' | 'max' | 'prod';
export const REDUCE_OPS: readonly ReduceOp[] = ['sum', 'min', 'max', 'prod'];

/** Typed arrays that have an MPI datatype (not Uint8ClampedArray: MPI wraps, never clamps). */
export type ReducibleArray =
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

type ReducibleConstructor = new (length: number) => ReducibleArray;

const KINDS: readonly ReducibleConstructor[] = [
  Float64Array,
  Float32Array,
  Int8Array,
  Uint8Array,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  BigInt64Array,
  BigUint64Array,
];

/** The constructor whose element type `value` has (a Buffer counts as Uint8Array), or null. */
function kindOf(value: unknown): ReducibleConstructor | null {
  return KINDS.find((kind) => value instanceof kind) ?? null;
}

export function checkOp(value: unknown): number {
  const index = REDUCE_OPS.indexOf(value as ReduceOp);
  if (index < 0) {
    throw new TypeError(`op must be one of ${REDUCE_OPS.join(', ')}, got ${String(value)}`);
  }
  return index;
}

export interface ReduceOperands {
  send: ReducibleArray;
  /** Where the result goes: `out`, else null (the caller allocates one where it is needed). */
  out: ReducibleArray | null;
  /** data was a number: it travels as a Float64Array of one element and resolves a number. */
  scalar: boolean;
}

export function checkReduceOperands(data: unknown, out: unknown): ReduceOperands {
  if (typeof data === 'number') {
    if (out !== undefined) throw new TypeError('out is only for typed-array data, not a number');
    return { send: new Float64Array([data]), out: null, scalar: true };
  }
  const kind = kindOf(data);
  if (kind === null) {
    throw new TypeError(
      `data must be a number or one of ${KINDS.map((k) => k.name).join(', ')}, got ` +
        `${describe(data)}`,
    );
  }
  const send = data as ReducibleArray;
  if (out === undefined) return { send, out: null, scalar: false };
  if (kindOf(out) !== kind) {
    throw new TypeError(`out must be a ${kind.name} like data, got ${describe(out)}`);
  }
  const target = out as ReducibleArray;
  if (target.length !== send.length) {
    throw new RangeError(`out must have data's length ${send.length}, got ${target.length}`);
  }
  if (overlaps(send, target)) {
    throw new RangeError('out must not share memory with data (MPI forbids aliased buffers)');
  }
  return { send, out: target, scalar: false };
}

/** A new array of data's type and length for the result (a Buffer for a Buffer). */
export function allocLike(data: ReducibleArray): ReducibleArray {
  if (Buffer.isBuffer(data)) return Buffer.alloc(data.length);
  return new (kindOf(data) as ReducibleConstructor)(data.length);
}

function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.buffer !== b.buffer || a.byteLength === 0 || b.byteLength === 0) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}
