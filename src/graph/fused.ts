/**
 * Runs in a worker thread: a fused task (plan.ts) is one call of `fused(payload)`, which runs a
 * chain's functions in order, each result going where the next call's arguments name the
 * previous node. Imported by workers as a module function (run.ts submits fromModule of
 * dist/graph/fused.js), so this module stays small: no client code is loaded with it.
 */
import type { FnSpec } from '../protocol';
import { compileFn } from '../worker/functions';
import { FN_CACHE_SIZE, Lru } from '../util/lru';
import type { Path } from './walk';

type AnyFn = (...args: unknown[]) => unknown;

export interface FusedPayload {
  /** The chain's node keys, in order (for errors). */
  keys: string[];
  /** Per step: the index of its function in `ids` and `specs` (a function used twice travels once). */
  fns: number[];
  ids: string[];
  specs: FnSpec[];
  /** Per step: the arguments; futures are already values here, holes hold null. */
  args: unknown[][];
  /** Per step: where in its arguments the previous step's result goes. */
  holes: Path[][];
}

/** Compiled once per thread (each worker thread imports this module once), by function id. */
const compiled = new Lru<string, AnyFn>(FN_CACHE_SIZE);

async function compile(p: FusedPayload, i: number): Promise<AnyFn> {
  const fn = await compileFn(p.specs[p.fns[i]]);
  compiled.set(p.ids[p.fns[i]], fn);
  return fn;
}

/** Puts `value` at `path` inside `args` (whose containers are this task's own copies). */
function setAt(args: unknown[], path: Path, value: unknown): void {
  let at = args as unknown as Record<string | number, unknown>;
  for (let i = 0; i < path.length - 1; i++) at = at[path[i]] as Record<string | number, unknown>;
  at[path[path.length - 1]] = value;
}

/** The error names the node that failed: the task's own key is the chain's last. */
function annotate(err: unknown, p: FusedPayload, i: number): Error {
  const where = `in delayed ${p.keys[i]}, step ${i + 1} of ${p.keys.length} fused into one task`;
  if (!(err instanceof Error))
    return new Error(`${where}: threw a non-Error value: ${String(err)}`);
  try {
    err.message = `${err.message} (${where})`;
  } catch {
    // A frozen error keeps its message; its stack still shows where it came from.
  }
  return err;
}

export async function fused(p: FusedPayload): Promise<unknown> {
  let prev: unknown;
  for (let i = 0; i < p.keys.length; i++) {
    // A cached function is taken without an await: one microtask per step adds up.
    const fn = compiled.get(p.ids[p.fns[i]]) ?? (await compile(p, i));
    const args = p.args[i];
    for (const hole of p.holes[i]) setAt(args, hole, prev);
    try {
      prev = fn(...args);
      // Only a promise is awaited, for the same reason.
      if (prev !== null && typeof (prev as { then?: unknown }).then === 'function')
        prev = await prev;
    } catch (err) {
      throw annotate(err, p, i);
    }
  }
  return prev;
}
