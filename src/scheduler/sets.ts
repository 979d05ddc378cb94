import type { TaskState } from './types';

/**
 * The shared empty set: most tasks never have dependencies, so their four dependency sets stay
 * this one object until the first add (`grow`), sparing the collector 40,000 sets per 10,000 tasks;
 * so does `who` until a task is first in memory.
 * Never add to it directly.
 */
export const NONE: ReadonlySet<string> = new Set<string>();
type GrowKey = 'deps' | 'dependents' | 'waitingOn' | 'waiters' | 'who';
export function grow<P>(ts: TaskState<P>, field: GrowKey): Set<string> {
  if (ts[field] === NONE) ts[field] = new Set<string>();
  return ts[field] as Set<string>;
}

/** Deleting from NONE is a no-op, so any of the four sets can shrink in place. */
export function shrink(set: ReadonlySet<string>, key: string): void {
  (set as Set<string>).delete(key);
}
