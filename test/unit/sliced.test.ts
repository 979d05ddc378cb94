import { eachSliced } from '../../src/util/sliced';

test('eachSliced visits every item in order and lets the event loop run in between', async () => {
  const items = Array.from({ length: 5000 }, (_, i) => i);
  const seen: number[] = [];
  let turnRanAt = -1;
  setImmediate(() => (turnRanAt = seen.length));
  // A zero-length slice: a turn after every 1,024 items.
  await eachSliced(items, (x) => seen.push(x), 0);
  expect(seen).toEqual(items);
  expect(turnRanAt).toBeGreaterThan(0);
  expect(turnRanAt).toBeLessThan(items.length);
});

test('eachSliced over a short list takes no turn of the event loop', async () => {
  let turnRan = false;
  setImmediate(() => (turnRan = true));
  const seen: string[] = [];
  await eachSliced(new Set(['a', 'b']), (x) => seen.push(x), 0);
  expect(seen).toEqual(['a', 'b']);
  expect(turnRan).toBe(false);
});
