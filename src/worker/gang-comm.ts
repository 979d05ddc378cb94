/**
 * The communicator a gang task's function gets as its first argument (issue 21), on the task's
 * thread. Every call is one request to the worker's main thread, which runs it on the gang's own
 * MPI communicator (gang.ts) and answers; calls resolve in the order MPI completes them. As in MPI,
 * every rank must call the collectives in the same order.
 */
import { deserialize, serialize } from 'node:v8';
import type { MessagePort } from 'node:worker_threads';
import {
  REDUCE_OPS,
  type Carried,
  type GangReply,
  type GangRequest,
  type NumericArray,
  type ReduceOp,
} from './gang-messages';

/** What a gang task's function gets: its rank in the gang, the gang's size, and MPI's calls. */
export interface GangComm {
  /** This task's rank in the gang, 0..size-1 (rank order is the workers' MPI rank order). */
  readonly rank: number;
  /** The number of ranks in the gang (the task's `ranks` option). */
  readonly size: number;
  /** Resolves once every rank of the gang has called it. */
  barrier(): Promise<void>;
  /**
   * `value` of `root` on every rank: typed arrays move as raw bytes (on shared memory, no
   * copy); anything else the structured clone algorithm takes (v8.serialize). Others pass nothing.
   */
  bcast<T>(value?: T, root?: number): Promise<T>;
  /**
   * Element-wise reduction of numbers or typed arrays (same type and length on every rank). The
   * result is a new array, or `out` (same type and length, not `value`'s memory): an `out` on a
   * SharedArrayBuffer is written by MPI itself, and reusing one saves a fresh array each call.
   */
  allreduce(value: number, op: ReduceOp): Promise<number>;
  allreduce<T extends NumericArray>(value: T, op: ReduceOp, out?: T): Promise<T>;
  /** As allreduce, the result on `root` only (null elsewhere). */
  reduce(value: number, op: ReduceOp, root?: number): Promise<number | null>;
  reduce<T extends NumericArray>(value: T, op: ReduceOp, root?: number, out?: T): Promise<T | null>;
  /** Every rank's value on `root`, by rank (null elsewhere); values may differ in size. */
  gather<T>(value: T, root?: number): Promise<T[] | null>;
  /** Every rank's value on every rank, by rank. */
  allgather<T>(value: T): Promise<T[]>;
  /** Sends `value` to rank `dest`; messages with the same tag arrive in the order sent. */
  send(value: unknown, dest: number, tag?: number): Promise<void>;
  /** The next value rank `source` sent with `tag`. */
  recv<T = unknown>(source: number, tag?: number): Promise<T>;
}

/** MPI guarantees tags up to at least this. */
export const MAX_TAG = 32767;

const CTORS: Record<string, new (buffer: SharedArrayBuffer) => NumericArray> = {
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
};

/** A typed array a reduction takes (Buffer counts as Uint8Array), else null. */
function numericKind(value: unknown): string | null {
  if (!ArrayBuffer.isView(value) || value instanceof DataView) return null;
  if (value instanceof Uint8ClampedArray) return null;
  if (Buffer.isBuffer(value)) return 'Uint8Array';
  const name = (value as object).constructor.name;
  return name in CTORS ? name : null;
}

/** The array on shared memory: itself when it is there already, else one copy. */
function shared(ctor: string, a: NumericArray): NumericArray {
  if (a.buffer instanceof SharedArrayBuffer && !Buffer.isBuffer(a)) return a;
  const out = new CTORS[ctor](new SharedArrayBuffer(a.byteLength));
  out.set(a as never);
  return out;
}

function carry(value: unknown): Carried {
  const ctor = numericKind(value);
  if (ctor) return { k: 'typed', ctor, a: shared(ctor, value as NumericArray) };
  if (typeof value === 'number') return { k: 'number', n: value };
  return { k: 'bytes', b: serialize(value) };
}

function uncarry(c: Carried): unknown {
  if (c.k === 'number') return c.n;
  if (c.k === 'typed') return c.a;
  return deserialize(c.b);
}

function checkRank(what: string, value: unknown, size: number): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) >= size) {
    throw new RangeError(
      `${what} must be a rank of the gang, 0 to ${size - 1}; got ${String(value)}`,
    );
  }
  return value as number;
}

function checkTag(value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > MAX_TAG) {
    throw new RangeError(`tag must be an integer from 0 to ${MAX_TAG}; got ${String(value)}`);
  }
  return value as number;
}

function checkOp(op: unknown): ReduceOp {
  if (!REDUCE_OPS.includes(op as ReduceOp)) {
    throw new TypeError(`op must be one of ${REDUCE_OPS.join(', ')}; got ${String(op)}`);
  }
  return op as ReduceOp;
}

function checkReducible(value: unknown): Carried {
  if (typeof value === 'number' || numericKind(value)) return carry(value);
  throw new TypeError(
    'allreduce and reduce take a number or a typed array (Float64Array, Int32Array, BigInt64Array, ...; not Uint8ClampedArray)',
  );
}

/** A request before its id is given. */
/**
 * Checks a reduction's `out`: the same type and length as the value, not its memory. Returns it
 * when MPI can write it directly (on shared memory), else undefined (the result is copied in).
 */
function checkOut(
  value: unknown,
  v: Carried,
  out: NumericArray | undefined,
): NumericArray | undefined {
  if (out === undefined) return undefined;
  if (v.k !== 'typed' || numericKind(out) !== v.ctor || out.length !== v.a.length) {
    throw new TypeError(
      'out must be a typed array of the same type and length as the value reduced (and no out for a number)',
    );
  }
  if (out.buffer === (value as NumericArray).buffer) {
    throw new RangeError('out must not share memory with the value reduced');
  }
  return out.buffer instanceof SharedArrayBuffer && !Buffer.isBuffer(out) ? out : undefined;
}

type Call = GangRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

/** The thread's side of the gang's communicator. */
export class ThreadComm implements GangComm {
  private nextId = 0;
  private readonly waiting = new Map<
    number,
    { resolve(v: unknown): void; reject(e: Error): void }
  >();

  constructor(
    private readonly port: MessagePort,
    readonly rank: number,
    readonly size: number,
  ) {
    port.on('message', (reply: GangReply) => {
      const w = this.waiting.get(reply.id);
      if (!w) return;
      this.waiting.delete(reply.id);
      if (reply.ok) w.resolve(reply.value);
      else {
        const e = Object.assign(new Error(reply.error.message), { code: reply.error.code });
        e.name = reply.error.name;
        w.reject(e);
      }
    });
  }

  /** Stops listening: the task is over (the port would otherwise keep the thread's loop busy). */
  close(): void {
    this.port.close();
  }

  private call(req: Call): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.port.postMessage({ ...req, id } as GangRequest);
    });
  }

  async barrier(): Promise<void> {
    await this.call({ op: 'barrier' });
  }

  async bcast<T>(value?: T, root = 0): Promise<T> {
    checkRank('root', root, this.size);
    const mine = this.rank === root ? carry(value) : null;
    return uncarry((await this.call({ op: 'bcast', root, value: mine })) as Carried) as T;
  }

  allreduce(value: number, op: ReduceOp): Promise<number>;
  allreduce<T extends NumericArray>(value: T, op: ReduceOp, out?: T): Promise<T>;
  allreduce(value: unknown, op: ReduceOp, out?: NumericArray): Promise<unknown> {
    return this.reduction(value, op, 0, true, out);
  }

  reduce(value: number, op: ReduceOp, root?: number): Promise<number | null>;
  reduce<T extends NumericArray>(value: T, op: ReduceOp, root?: number, out?: T): Promise<T | null>;
  reduce(value: unknown, op: ReduceOp, root = 0, out?: NumericArray): Promise<unknown> {
    return this.reduction(value, op, root, false, out);
  }

  private async reduction(
    value: unknown,
    op: ReduceOp,
    root: number,
    all: boolean,
    out: NumericArray | undefined,
  ): Promise<unknown> {
    const red = checkOp(op);
    checkRank('root', root, this.size);
    const v = checkReducible(value);
    const direct = checkOut(value, v, out);
    const got = (await this.call({
      op: 'reduce',
      root,
      all,
      red,
      value: v,
      out: direct,
    })) as Carried | null;
    if (got === null) return null;
    if (out && !direct) out.set((got as { a: NumericArray }).a as never);
    return out ?? uncarry(got);
  }

  async gather<T>(value: T, root = 0): Promise<T[] | null> {
    checkRank('root', root, this.size);
    const out = await this.call({ op: 'gather', root, all: false, value: serialize(value) });
    return out === null ? null : (out as Uint8Array[]).map((b) => deserialize(b) as T);
  }

  async allgather<T>(value: T): Promise<T[]> {
    const out = await this.call({ op: 'gather', root: 0, all: true, value: serialize(value) });
    return (out as Uint8Array[]).map((b) => deserialize(b) as T);
  }

  async send(value: unknown, dest: number, tag = 0): Promise<void> {
    checkRank('dest', dest, this.size);
    await this.call({ op: 'send', dest, tag: checkTag(tag), value: serialize(value) });
  }

  async recv<T = unknown>(source: number, tag = 0): Promise<T> {
    checkRank('source', source, this.size);
    const out = (await this.call({ op: 'recv', source, tag: checkTag(tag) })) as Carried;
    return uncarry(out) as T;
  }
}
