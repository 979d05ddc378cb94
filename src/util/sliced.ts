import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Calls `fn` on every item, giving the event loop a turn whenever `sliceMs` have gone by, so a
 * pass over a million futures never holds the loop for long (issue 23: no block over 100 ms).
 */
export async function eachSliced<T>(
  items: Iterable<T>,
  fn: (item: T) => void,
  sliceMs: number,
): Promise<void> {
  let start = performance.now();
  let n = 0;
  for (const item of items) {
    fn(item);
    if ((++n & 1023) === 0 && performance.now() - start > sliceMs) {
      await nextTurn();
      start = performance.now();
    }
  }
}
