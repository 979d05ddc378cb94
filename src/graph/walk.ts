/**
 * Walks arguments as Dask walks lists and dicts: arrays and plain objects are looked into, every
 * other value (a node, a future, a Buffer, a Map, a class instance) is a leaf. Explicit stacks,
 * as pack() does: a deeply nested argument costs no call stack.
 */
import { isPlainObject } from '../protocol/pack';
import { Future } from '../client/future';
import { isDelayed, type GraphNode } from './types';

const isContainer = (v: unknown): v is unknown[] | Record<string, unknown> =>
  typeof v === 'object' && v !== null && (Array.isArray(v) || isPlainObject(v));

/**
 * The nodes inside `value` (each once, in the order first met) and whether futures are; the
 * futures themselves go into `futures` when given.
 */
export function scan(
  value: unknown,
  futures?: Future[],
): { nodes: GraphNode[]; hasFutures: boolean } {
  const nodes: GraphNode[] = [];
  let hasFutures = false;
  const seen = new Set<unknown>();
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    seen.add(v);
    if (isDelayed(v)) nodes.push(v);
    else if (v instanceof Future) {
      hasFutures = true;
      futures?.push(v);
    } else if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]);
    else if (isPlainObject(v)) {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--)
        stack.push((v as Record<string, unknown>)[keys[i]]);
    }
  }
  return { nodes, hasFutures };
}

/** Put in place of a node by `replace` to leave a hole there (its path is reported). */
export const HOLE: unique symbol = Symbol('hole') as never;
export type Path = (string | number)[];

/**
 * A copy of `value` with each node swapped for `swap(node)`. Arrays and plain objects are copied
 * on the way (the originals belong to the user and to other tasks); shared references and cycles
 * stay shared. Where `swap` gives HOLE the copy holds null and the path is reported, so a fused
 * task can put the previous call's result there.
 */
export function replace(
  value: unknown,
  swap: (node: GraphNode) => unknown,
): { value: unknown; holes: Path[] } {
  const holes: Path[] = [];
  const memo = new Map<object, unknown>();
  const work: [object, unknown[] | Record<string, unknown>, Path][] = [];
  // The path is built only for what needs one (a hole, a container): not for every number.
  const convert = (v: unknown, parent: Path, k: string | number | null): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    if (memo.has(v)) return memo.get(v);
    const at = () => (k === null ? parent : [...parent, k]);
    let out: unknown = v;
    if (isDelayed(v)) {
      out = swap(v);
      if (out === HOLE) {
        holes.push(at());
        return null; // not memoised: each place the node sits in is a hole of its own
      }
    } else if (isContainer(v)) {
      out = Array.isArray(v) ? new Array(v.length) : {};
      work.push([v, out as unknown[] | Record<string, unknown>, at()]);
    }
    memo.set(v, out);
    return out;
  };
  const root = convert(value, [], null);
  while (work.length > 0) {
    const [src, dst, at] = work.pop()!;
    if (Array.isArray(src)) {
      for (let i = 0; i < src.length; i++) (dst as unknown[])[i] = convert(src[i], at, i);
    } else {
      const rec = src as Record<string, unknown>;
      for (const k of Object.keys(rec))
        (dst as Record<string, unknown>)[k] = convert(rec[k], at, k);
    }
  }
  return { value: root, holes };
}
