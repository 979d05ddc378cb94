import { isPlainObject } from '../protocol/pack';
import { Future } from './future';

/** Every Future inside a value (arrays and plain objects, any depth). */
export function collectFutures(value: unknown, out: Future[] = []): Future[] {
  if (value instanceof Future) out.push(value);
  else if (Array.isArray(value)) for (const v of value) collectFutures(v, out);
  else if (isPlain(value)) for (const v of Object.values(value as object)) collectFutures(v, out);
  return out;
}

/** The same structure with each Future replaced by its result. */
export function substitute(value: unknown, results: Map<string, unknown>): unknown {
  if (value instanceof Future) return results.get(value.key);
  if (Array.isArray(value)) return value.map((v) => substitute(v, results));
  if (isPlain(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as object)) out[k] = substitute(v, results);
    return out;
  }
  return value;
}

function isPlain(v: unknown): boolean {
  return typeof v === 'object' && v !== null && isPlainObject(v);
}

/** Zips iterables into argument lists (stops at the shortest, as Python's zip). */
export function zip(iterables: Iterable<unknown>[]): unknown[][] {
  const arrays = iterables.map((it) => Array.from(it));
  const n = arrays.length === 0 ? 0 : arrays.reduce((m, a) => Math.min(m, a.length), Infinity);
  const out: unknown[][] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = arrays.map((a) => a[i]);
  return out;
}
