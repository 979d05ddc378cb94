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

export function pack(value: unknown, options: PackOptions = {}): Packed {
  const frames: Buffer[] = [Buffer.alloc(0)];
  const walk = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    if (options.futureKey) {
      const key = options.futureKey(v);
      if (key !== undefined) return { [FUT]: key };
    }
    if (ArrayBuffer.isView(v) || isArrayBuffer(v)) {
      if (v.byteLength < FRAME_THRESHOLD) return v;
      const kind = (Buffer.isBuffer(v) ? 'Buffer' : v.constructor.name) as ViewKind;
      const buf = isArrayBuffer(v)
        ? Buffer.from(v)
        : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      const first = frames.length;
      for (let at = 0; at < buf.length || at === 0; at += FRAME_CHUNK) {
        frames.push(buf.subarray(at, Math.min(buf.length, at + FRAME_CHUNK)));
        if (buf.length === 0) break;
      }
      return { [BUF]: first, n: frames.length - first, kind };
    }
    if (Array.isArray(v)) {
      let out: unknown[] | undefined;
      for (let i = 0; i < v.length; i++) {
        const w = walk(v[i]);
        if (w !== v[i]) {
          out ??= v.slice();
          out[i] = w;
        }
      }
      return out ?? v;
    }
    if (!isPlainObject(v)) return v;
    let out: Record<string, unknown> | undefined;
    for (const k of Object.keys(v)) {
      const item = (v as Record<string, unknown>)[k];
      const w = walk(item);
      if (w !== item) {
        out ??= { ...(v as Record<string, unknown>) };
        out[k] = w;
      }
    }
    return out ?? v;
  };
  frames[0] = v8.serialize(walk(value));
  return frames;
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
  const walk = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) v[i] = walk(v[i]);
      return v;
    }
    if (!isPlainObject(v)) return v;
    const rec = v as Record<string, unknown>;
    if (typeof rec[BUF] === 'number' && typeof rec.kind === 'string') {
      const first = rec[BUF] as number;
      const n = typeof rec.n === 'number' ? rec.n : 1;
      const parts = frames.slice(first, first + n);
      if (parts.length !== n)
        throw new Error(`packed value refers to missing frames ${first}+${n}`);
      const bufs = parts.map((raw) =>
        Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength),
      );
      const buf = bufs.length === 1 ? bufs[0] : Buffer.concat(bufs);
      return rebuild(buf, rec.kind as ViewKind);
    }
    if (typeof rec[FUT] === 'string') {
      if (!resolveFuture) throw new Error('future placeholder outside task arguments');
      return resolveFuture(rec[FUT] as string);
    }
    for (const k of Object.keys(rec)) rec[k] = walk(rec[k]);
    return rec;
  };
  return walk(head);
}

export function packedBytes(frames: Packed): number {
  let n = 0;
  for (const f of frames) n += f.length;
  return n;
}
