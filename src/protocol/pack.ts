import { ClusterError } from '../errors';
import * as v8 from 'node:v8';

/**
 * Values travel as `[head, ...buffers]`: the head is v8 structured-clone bytes; every large binary
 * buffer inside the value (Buffer, TypedArray, DataView, ArrayBuffer) travels as its own ZeroMQ frame
 * instead, without being copied into the head. Futures inside arguments become placeholders that
 * the receiver swaps for the dependency's value.
 */
export type Packed = Buffer[];

/** Buffers at least this large travel as separate frames. */
export const FRAME_THRESHOLD = 16 * 1024;
/**
 * Larger buffers are cut into frames of this size: measured here, libzmq moves 16 MiB frames
 * 3-4x faster than one 256 MiB frame (page faults on one huge receive buffer).
 */
export const FRAME_CHUNK = 16 * 2 ** 20;

const BUF = '__mpiClusterBuffer__';
const FUT = '__mpiClusterFuture__';

type ViewKind =
  | 'Buffer'
  | 'ArrayBuffer'
  | 'DataView'
  | 'Int8Array'
  | 'Uint8Array'
  | 'Uint8ClampedArray'
  | 'Int16Array'
  | 'Uint16Array'
  | 'Int32Array'
  | 'Uint32Array'
  | 'Float32Array'
  | 'Float64Array'
  | 'BigInt64Array'
  | 'BigUint64Array';

/** v8.serialize, with a coded error that says what cannot travel. */
function serialize(value: unknown): Buffer {
  try {
    return v8.serialize(value);
  } catch (err) {
    throw new ClusterError(
      'ERR_SERIALIZE',
      `a value cannot be sent: ${(err as Error).message} Values travel by structured clone: plain data, Buffers, typed arrays, Maps, Sets, Dates and futures do; functions, symbols, WeakMaps and class methods do not (ship a function as a task, or fromModule).`,
      { cause: err },
    );
  }
}

/** Plain object of any realm (values from v8.deserialize and from vm contexts, as in jest). */
export function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

const isArrayBuffer = (v: object): v is ArrayBuffer =>
  Object.prototype.toString.call(v) === '[object ArrayBuffer]';

export interface PackOptions {
  /** Returns the key when `v` is a future, so it can become a dependency placeholder. */
  futureKey?: (v: object) => string | undefined;
}

/**
 * Packs a value. What structured clone keeps is kept: cycles and shared references, also through
 * objects that hold large buffers (a buffer or object referenced twice travels once). The walk
 * uses an explicit stack, so nesting depth costs no call stack here.
 */
export function pack(value: unknown, options: PackOptions = {}): Packed {
  const frames: Buffer[] = [Buffer.alloc(0)];
  if (!needsCopy(value, options)) {
    frames[0] = serialize(value);
    return frames;
  }
  // Copy every array and plain object on the way to a large buffer or a future: each copy is
  // made (and remembered) before its children, so cycles and shared references land on it.
  const memo = new Map<object, unknown>();
  const work: [object, Record<string, unknown> | unknown[]][] = [];
  const convert = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    if (memo.has(v)) return memo.get(v);
    const key = options.futureKey?.(v);
    let out: unknown = v;
    if (key !== undefined) out = { [FUT]: key };
    else if (ArrayBuffer.isView(v) || isArrayBuffer(v)) {
      if (v.byteLength >= FRAME_THRESHOLD) out = frameBuffer(v, frames);
    } else if (Array.isArray(v)) {
      out = new Array(v.length);
      work.push([v, out as unknown[]]);
    } else if (isPlainObject(v)) {
      out = {};
      work.push([v, out as Record<string, unknown>]);
    }
    memo.set(v, out);
    return out;
  };
  const root = convert(value);
  while (work.length > 0) {
    const [src, dst] = work.pop()!;
    if (Array.isArray(src)) {
      for (let i = 0; i < src.length; i++) (dst as unknown[])[i] = convert(src[i]);
    } else {
      const rec = src as Record<string, unknown>;
      for (const k of Object.keys(rec)) (dst as Record<string, unknown>)[k] = convert(rec[k]);
    }
  }
  frames[0] = serialize(root);
  return frames;
}

/** Whether anything inside `value` must be replaced: a large buffer or a future. */
function needsCopy(value: unknown, options: PackOptions): boolean {
  // The common case, arguments that are all plain values, needs no walk.
  if (Array.isArray(value) && value.every((x) => typeof x !== 'object' || x === null)) return false;
  const seen = new Set<object>();
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    seen.add(v);
    if (options.futureKey?.(v) !== undefined) return true;
    if (ArrayBuffer.isView(v) || isArrayBuffer(v)) {
      if (v.byteLength >= FRAME_THRESHOLD) return true;
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push(v[i]);
    } else if (isPlainObject(v)) {
      for (const k of Object.keys(v)) stack.push((v as Record<string, unknown>)[k]);
    }
  }
  return false;
}

/** Appends a large buffer's bytes as frames (16 MiB pieces); returns its placeholder. */
function frameBuffer(v: ArrayBufferView | ArrayBuffer, frames: Buffer[]): unknown {
  const kind = (Buffer.isBuffer(v) ? 'Buffer' : v.constructor.name) as ViewKind;
  const buf = isArrayBuffer(v) ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  const first = frames.length;
  for (let at = 0; at < buf.length || at === 0; at += FRAME_CHUNK) {
    frames.push(buf.subarray(at, Math.min(buf.length, at + FRAME_CHUNK)));
    if (buf.length === 0) break;
  }
  return { [BUF]: first, n: frames.length - first, kind };
}

function rebuild(buf: Buffer, kind: ViewKind): unknown {
  if (kind === 'Buffer') return buf;
  if (kind === 'ArrayBuffer') return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
  const Ctor = (globalThis as unknown as Record<string, new (...a: unknown[]) => unknown>)[kind];
  const width = (Ctor as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
  // A typed array view needs its offset aligned to its element size; copy when it is not.
  const src = buf.byteOffset % width === 0 ? buf : Buffer.from(buf);
  if (kind === 'DataView') return new DataView(src.buffer, src.byteOffset, src.length);
  return new Ctor(src.buffer, src.byteOffset, src.length / width);
}

/**
 * Unpacks a value. `resolveFuture` supplies dependency values; without it a future placeholder is
 * an error (it can only appear in task arguments).
 */
export function unpack(
  frames: readonly Uint8Array[],
  resolveFuture?: (key: string) => unknown,
): unknown {
  const head = v8.deserialize(frames[0]);
  if (frames.length === 1 && !resolveFuture) return head;
  // In place, with an explicit stack; a placeholder met twice (a shared reference) becomes one
  // value, and cycles end at what was already visited.
  const memo = new Map<object, unknown>();
  const work: object[] = [];
  const convert = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    if (memo.has(v)) return memo.get(v);
    let out: unknown = v;
    if (Array.isArray(v)) work.push(v);
    else if (isPlainObject(v)) {
      const rec = v as Record<string, unknown>;
      if (typeof rec[BUF] === 'number' && typeof rec.kind === 'string') {
        out = unframe(frames, rec[BUF] as number, typeof rec.n === 'number' ? rec.n : 1, rec.kind);
      } else if (typeof rec[FUT] === 'string') {
        if (!resolveFuture) throw new Error('future placeholder outside task arguments');
        out = resolveFuture(rec[FUT] as string);
      } else work.push(v);
    }
    memo.set(v, out);
    return out;
  };
  const root = convert(head);
  while (work.length > 0) {
    const o = work.pop()!;
    if (Array.isArray(o)) {
      for (let i = 0; i < o.length; i++) o[i] = convert(o[i]);
    } else {
      const rec = o as Record<string, unknown>;
      for (const k of Object.keys(rec)) rec[k] = convert(rec[k]);
    }
  }
  return root;
}

function unframe(frames: readonly Uint8Array[], first: number, n: number, kind: string): unknown {
  const parts = frames.slice(first, first + n);
  if (parts.length !== n) throw new Error(`packed value refers to missing frames ${first}+${n}`);
  const bufs = parts.map((raw) =>
    Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength),
  );
  if (bufs.length === 1) return rebuild(bufs[0], kind as ViewKind);
  return rebuild(adjacent(bufs) ?? Buffer.concat(bufs), kind as ViewKind);
}

/**
 * Frames that lie one after another in one memory block (a sealed bulk transfer opens into one,
 * net/bulk-seal.ts) as one view of that block, without a copy; null when they do not.
 */
function adjacent(bufs: Buffer[]): Buffer | null {
  let end = bufs[0].byteOffset + bufs[0].length;
  for (let i = 1; i < bufs.length; i++) {
    if (bufs[i].buffer !== bufs[0].buffer || bufs[i].byteOffset !== end) return null;
    end += bufs[i].length;
  }
  return Buffer.from(bufs[0].buffer, bufs[0].byteOffset, end - bufs[0].byteOffset);
}

export function packedBytes(frames: readonly Uint8Array[]): number {
  let n = 0;
  for (const f of frames) n += f.length;
  return n;
}
