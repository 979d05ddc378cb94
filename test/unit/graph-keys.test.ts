import { createHash } from 'node:crypto';
import { delayed, Delayed } from '../../src/graph';
import { fnSpecOf, fromModule } from '../../src/client/fnspec';
import { pack } from '../../src/protocol/pack';

const inc = (x: number) => x + 1;
const add = (a: number, b: number) => a + b;

test('the same function and arguments give the same key; other arguments another', () => {
  const a = delayed(inc)(1);
  const b = delayed(inc)(1);
  expect(a).not.toBe(b);
  expect(a.key).toBe(b.key);
  expect(a.key).toMatch(/^inc-[0-9a-f]{24}$/);
  expect(delayed(inc)(2).key).not.toBe(a.key);
  // The same source under another name is another prefix (and the same hash would be fine).
  expect(delayed(add)(1, 2).key).toMatch(/^add-/);
});

test("a node's key covers its dependencies' keys, nested in arrays and objects", () => {
  const x = delayed(inc)(1);
  const y = delayed(inc)(2);
  const sum = delayed((o: { v: number[] }) => o.v[0]);
  expect(sum({ v: [x] }).key).toBe(sum({ v: [delayed(inc)(1)] }).key);
  expect(sum({ v: [x] }).key).not.toBe(sum({ v: [y] }).key);
  expect(sum({ v: [x, y] }).deps.map((d) => d.key)).toEqual([x.key, y.key]);
});

test('pure: false gives a new random key per call; key gives that key', () => {
  const r = delayed(inc, { pure: false });
  expect(r(1).key).not.toBe(r(1).key);
  expect(delayed(inc, { key: 'mine' })(1).key).toBe('mine');
  expect(delayed(inc, { name: 'step' })(1).key).toMatch(/^step-/);
});

test("an unfused node's key is the key the client gives the same pure submit", () => {
  // client.ts submitWith({ pure: true }): `${name}-${sha1(fn id, packed args)}`, futures as
  // placeholders holding their keys. A dependency's node key stands for its future's key.
  const x = delayed(inc)(1);
  const node = delayed(add)(x, 5);
  const { id } = fnSpecOf(add);
  const frames = pack([{ key: x.key }, 5], {
    futureKey: (v) => (v && (v as { key?: string }).key === x.key ? x.key : undefined),
  });
  const h = createHash('sha1').update(id);
  for (const f of frames) h.update(f);
  expect(node.key).toBe(`add-${h.digest('hex').slice(0, 24)}`);
});

test('delayed(value) wraps data; a structure of nodes becomes a node of their values', () => {
  const d = delayed([1, 2, 3]);
  expect(d).toBeInstanceOf(Delayed);
  expect(d.literal).toBe(true);
  expect(d.key).toMatch(/^array-/);
  expect(delayed({ a: 1 }).key).toMatch(/^object-/);
  expect(delayed(5).key).toMatch(/^number-/);
  const s = delayed({ a: delayed(inc)(1) });
  expect(s.literal).toBe(false);
  expect(s.deps).toHaveLength(1);
  expect(delayed(d)).toBe(d);
});

test('a closure is refused where delayed is called, with ERR_CLOSURE', () => {
  const k = 3;
  expect(() => delayed((x: number) => x + k)).toThrow(
    expect.objectContaining({ code: 'ERR_CLOSURE' }),
  );
});

test('unknown or wrong options are refused with ERR_INVALID_OPTION', () => {
  const bad = (o: unknown) => () => delayed(inc, o as never);
  expect(bad({ ranks: 2 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  expect(bad({ retries: -1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  expect(bad({ name: 'a-b' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  expect(bad({ pure: 'no' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
});

test('a node is not a promise and prints how to get its value', () => {
  const n = delayed(inc)(1);
  expect((n as unknown as { then?: unknown }).then).toBeUndefined();
  expect(String(n)).toContain('compute()');
});

test('compute without any client connected says how to get one (ERR_NO_CLIENT)', async () => {
  await expect(delayed(inc)(1).compute()).rejects.toMatchObject({ code: 'ERR_NO_CLIENT' });
});

test('a module function is named by its export; its key covers module and export', () => {
  const sim = delayed(fromModule('/opt/tasks.js', 'simulate'));
  expect(sim(1).key).toMatch(/^simulate-[0-9a-f]{24}$/);
  expect(sim(1).key).toBe(delayed(fromModule('/opt/tasks.js', 'simulate'))(1).key);
  expect(sim(1).key).not.toBe(delayed(fromModule('/opt/other.js', 'simulate'))(1).key);
});
