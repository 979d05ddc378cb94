import { parseTree } from '../../src/observe/profile-requests';
import { merge, total, treeOf, trim, type ProfileTree } from '../../src/worker/profile';

/** The /profile call trees (issue 24): V8's node list to a tree, merging, trimming, checking. */
const leaf = (n: string, s: number): ProfileTree => ({ n, s, c: [] });

test("V8's nodes become a tree of function names with their self samples", () => {
  const frame = (functionName: string, lineNumber = 0) => ({
    functionName,
    url: 'file:///x/tasks.js',
    lineNumber,
  });
  const t = treeOf([
    { id: 1, callFrame: frame('(root)'), children: [2] },
    { id: 2, callFrame: frame('spin', 9), hitCount: 5, children: [3] },
    { id: 3, callFrame: frame(''), hitCount: 2 },
  ]);
  expect(t).toEqual({
    n: 'all',
    s: 0,
    c: [{ n: 'spin tasks.js:10', s: 5, c: [{ n: '(anonymous) tasks.js:1', s: 2, c: [] }] }],
  });
});

test('merging adds the samples of same-named nodes at each level', () => {
  const a = { n: 'all', s: 0, c: [{ n: 'f', s: 1, c: [leaf('g', 2)] }] };
  const b = { n: 'all', s: 1, c: [{ n: 'f', s: 3, c: [leaf('g', 1), leaf('h', 4)] }] };
  const m = merge(a, b);
  expect(total(m)).toBe(total(a) + total(b));
  expect(m.c).toEqual([{ n: 'f', s: 4, c: [leaf('g', 3), leaf('h', 4)] }]);
});

test('trimming keeps the heaviest nodes within the limit and loses no samples', () => {
  const wide = { n: 'all', s: 0, c: Array.from({ length: 5000 }, (_, i) => leaf(`f${i}`, i % 7)) };
  const t = trim(wide, 100);
  const count = (x: ProfileTree): number => 1 + x.c.reduce((a, c) => a + count(c), 0);
  expect(count(t)).toBeLessThanOrEqual(100);
  expect(total(t)).toBe(total(wide));
});

test("a worker's tree is checked: malformed, hostile or too deep is refused", () => {
  expect(parseTree(JSON.stringify(leaf('f', 1)))).toEqual(leaf('f', 1));
  for (const bad of [
    '{',
    'null',
    '{"n":1,"s":0,"c":[]}',
    '{"n":"f","s":-1,"c":[]}',
    '{"n":"f","s":0}',
  ])
    expect(parseTree(bad)).toBeNull();
  let deep: ProfileTree = leaf('x', 1);
  for (let i = 0; i < 300; i++) deep = { n: 'x', s: 0, c: [deep] };
  expect(parseTree(JSON.stringify(deep))).toBeNull();
});
