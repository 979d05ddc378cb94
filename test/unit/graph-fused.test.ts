import { fused, type FusedPayload } from '../../src/graph/fused';

const spec = (source: string, name: string) => ({ kind: 'source' as const, source, name });

test("a fused task runs its chain in order, each result in the next call's holes", async () => {
  const p: FusedPayload = {
    keys: ['a', 'b', 'c'],
    fns: [0, 0, 1],
    ids: ['inc', 'pair'],
    specs: [spec('(x) => x + 1', 'inc'), spec('(o, k) => ({ [k]: o.v * 10 })', 'pair')],
    args: [[1], [null], [{ v: null }, 'out']],
    holes: [[], [[0]], [[0, 'v']]],
  };
  await expect(fused(p)).resolves.toEqual({ out: 30 });
});

test('an async step is awaited before the next', async () => {
  const p: FusedPayload = {
    keys: ['a', 'b'],
    fns: [0, 1],
    ids: ['later', 'double'],
    specs: [spec('async (x) => x + 1', 'later'), spec('(x) => x * 2', 'double')],
    args: [[1], [null]],
    holes: [[], [[0]]],
  };
  await expect(fused(p)).resolves.toBe(4);
});

test("an error names the failing node's key and its step", async () => {
  const p: FusedPayload = {
    keys: ['ok-1', 'bad-2', 'never-3'],
    fns: [0, 1, 0],
    ids: ['id', 'boom'],
    specs: [spec('(x) => x', 'id'), spec('() => { throw new RangeError("no") }', 'boom')],
    args: [[1], [null], [null]],
    holes: [[], [[0]], [[0]]],
  };
  await expect(fused(p)).rejects.toThrow(/no \(in delayed bad-2, step 2 of 3/);
});
