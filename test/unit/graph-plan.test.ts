import { delayed, planGraph } from '../../src/graph';
import type { Future } from '../../src/client/future';

const inc = (x: number) => x + 1;
const add = (a: number, b: number) => a + b;
const keysOf = (plan: ReturnType<typeof planGraph>) =>
  plan.tasks.map((t) => t.nodes.map((n) => n.key));

test('a diamond is four tasks in dependency order, nothing fused (each join has two inputs)', () => {
  const a = delayed(inc)(1);
  const b = delayed(inc)(a);
  const c = delayed((x: number) => x * 2)(a);
  const d = delayed(add)(b, c);
  const plan = planGraph([d]);
  expect(plan.size).toBe(4);
  const order = plan.tasks.map((t) => t.nodes.map((n) => n.key).join('+'));
  expect(order).toHaveLength(4);
  expect(order[0]).toBe(a.key);
  expect(order[3]).toBe(d.key);
});

test('culling: only what the outputs need is planned', () => {
  const a = delayed(inc)(1);
  const used = delayed(inc)(a);
  const unused = delayed((x: number) => x * 100)(a);
  const plan = planGraph([used], { fuse: false });
  const keys = keysOf(plan).flat();
  expect(keys).toEqual([a.key, used.key]);
  expect(keys).not.toContain(unused.key);
});

test('a shared sub-graph built twice (two objects, one key) is planned once', () => {
  const left = delayed(inc)(delayed(inc)(1));
  const right = delayed(inc)(delayed(inc)(1));
  const both = delayed(add)(left, right);
  // left and right are the same key: add takes it twice, it has one dependent.
  const plan = planGraph([both], { fuse: false });
  expect(plan.size).toBe(3);
  expect(plan.tasks).toHaveLength(3);
});

test('a linear chain fuses into one task ending at the requested node', () => {
  let c = delayed(inc)(0);
  const first = c;
  for (let i = 0; i < 9; i++) c = delayed(inc)(c);
  const plan = planGraph([c]);
  expect(plan.tasks).toHaveLength(1);
  expect(plan.tasks[0].nodes).toHaveLength(10);
  expect(plan.tasks[0].nodes[0].key).toBe(first.key);
  expect(plan.tasks[0].nodes[9].key).toBe(c.key);
  expect(planGraph([c], { fuse: false }).tasks).toHaveLength(10);
});

test('fusion stops at a node with two dependents, a requested node and other task options', () => {
  const a = delayed(inc)(0);
  const b = delayed(inc)(a);
  const left = delayed(inc)(b);
  const right = delayed((x: number) => x * 2)(b);
  // a+b fuse (b is a's only dependent); left and right each have their own chain end.
  expect(keysOf(planGraph([left, right]))).toEqual([[a.key, b.key], [left.key], [right.key]]);
  // b requested too: a chain cannot swallow it.
  expect(keysOf(planGraph([b, left]))).toEqual([[a.key, b.key], [left.key]]);
  const retried = delayed(inc, { retries: 2 })(b);
  expect(keysOf(planGraph([retried]))).toEqual([[a.key, b.key], [retried.key]]);
  const named = delayed(inc, { key: 'named' })(b);
  expect(keysOf(planGraph([named]))).toEqual([[a.key, b.key], ['named']]);
});

test('a 10,000-long chain plans without deep recursion', () => {
  let c = delayed(inc)(0);
  for (let i = 0; i < 10_000; i++) c = delayed(inc)(c);
  const plan = planGraph([c]);
  expect(plan.tasks).toHaveLength(1);
  expect(plan.tasks[0].nodes).toHaveLength(10_001);
});

test('literal data with one dependent is inlined; with two it stays a task', () => {
  const data = delayed([1, 2, 3]);
  const one = delayed((xs: number[]) => xs.length)(data);
  const plan = planGraph([one]);
  expect([...plan.inlined.keys()]).toEqual([data.key]);
  expect(keysOf(plan)).toEqual([[one.key]]);
  const two = delayed(add)(
    delayed((xs: number[]) => xs[0])(data),
    delayed((xs: number[]) => xs[1])(data),
  );
  const p2 = planGraph([two]);
  expect(p2.inlined.size).toBe(0);
  expect(keysOf(p2)[0]).toEqual([data.key]);
});

test('a held node is not planned again, nor is what only it needs', () => {
  const a = delayed(inc)(1);
  const b = delayed(inc)(a);
  const c = delayed(inc)(b);
  const fake = { key: 'held-b', status: 'finished' } as unknown as Future;
  const plan = planGraph([c], { held: (k) => (k === b.key ? fake : undefined), fuse: false });
  expect(keysOf(plan)).toEqual([[c.key]]);
  expect(plan.held.get(b.key)).toBe(fake);
});

test('two nodes with one explicit key for other work are refused with ERR_KEY_CONFLICT', () => {
  const x = delayed(inc, { key: 'k' })(1);
  const y = delayed(inc, { key: 'k' })(2);
  expect(() => planGraph([delayed(add)(x, y)])).toThrow(
    expect.objectContaining({ code: 'ERR_KEY_CONFLICT' }),
  );
  // The same work under one explicit key is one node.
  const z = delayed(inc, { key: 'k' })(1);
  expect(planGraph([delayed(add)(x, z)]).size).toBe(2);
});
