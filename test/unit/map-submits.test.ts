import { unpack, type Envelope } from '../../src/protocol';
import { MapSubmits, isScalarArgs, mapKeys } from '../../src/client/map-submits';

const OPTS = { pure: false, retries: 0, priority: 0 };

test('only null, numbers, strings, booleans, undefined and bigints are scalar arguments', () => {
  expect(isScalarArgs([[1, 'a', true, null, undefined, 2n]], 6)).toBe(true);
  expect(isScalarArgs([[1], [{}]], 1)).toBe(false);
  expect(isScalarArgs([[1, [2]]], 2)).toBe(false);
  expect(isScalarArgs([[Symbol('s')]], 1)).toBe(false);
  expect(isScalarArgs([[() => 1]], 1)).toBe(false);
  // Beyond the shortest iterable nothing is looked at (map stops there).
  expect(isScalarArgs([[1, {}], [2]], 1)).toBe(true);
});

test('map keys share one random id per map and differ by index, with the kind in front', () => {
  const a = mapKeys('inc', 3);
  const b = mapKeys('inc', 3);
  expect(new Set([...a.keys, ...b.keys]).size).toBe(6);
  expect(a.keys[2]).toMatch(/^inc-[0-9a-f-]{36}-2$/);
  expect(a.keys[2]).toBe(`${a.prefix}2`);
});

test('a map source makes one submit per task, its arguments unpacking to the zipped values', () => {
  const n = 2500; // more than one serializer's worth of tasks
  const { keys } = mapKeys('add', n);
  const xs = Array.from({ length: n }, (_, i) => i);
  const ys = Array.from({ length: n }, (_, i) => `y${i}`);
  const src = new MapSubmits(keys, [xs, ys], 'fn-1', { ...OPTS, priority: 3, workers: ['w'] });
  expect(src.left).toBe(n);
  const made: Envelope[] = [];
  for (let env = src.next(); env !== null; env = src.next()) made.push(env);
  expect(made).toHaveLength(n);
  expect(src.left).toBe(0);
  expect(src.next()).toBeNull();
  made.forEach(({ op, frames }, i) => {
    if (op.t !== 'submit') throw new Error(`op ${op.t}`);
    expect(op.task).toEqual({
      key: keys[i],
      fn: 'fn-1',
      deps: [],
      priority: 3,
      retries: 0,
      workers: ['w'],
      nf: 1,
    });
    expect(unpack(frames)).toEqual([i, `y${i}`]);
  });
});
