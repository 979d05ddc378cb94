import { HolderLists, KeyTable, newKeyState } from '../../src/client/key-table';
import { mapKeys } from '../../src/client/map-submits';
import type { KeyState } from '../../src/client/future';

const state = (key: string): KeyState => ({
  key,
  status: 'pending',
  error: null,
  inline: null,
  who: [],
  refs: 1,
  waiters: [],
});

test("a map's keys are found, replaced and deleted by prefix and index, beside single keys", () => {
  const t = new KeyTable();
  const { prefix, keys } = mapKeys('inc', 3);
  const states = t.addBatch(prefix, keys);
  t.set('solo-1', state('solo-1'));
  expect(t.get(keys[1])).toBe(states[1]);
  expect(t.get(keys[1])!.status).toBe('pending');
  expect(t.has(`${prefix}3`)).toBe(false); // past the batch's end
  expect(t.has(`${prefix}01`)).toBe(false); // not a key of the batch, though its number is
  expect(t.has(`${prefix}x`)).toBe(false);
  expect(t.size).toBe(4);
  const replaced = state(keys[2]);
  t.set(keys[2], replaced);
  expect(t.get(keys[2])).toBe(replaced);
  expect(t.delete(keys[0])).toBe(true);
  expect(t.delete(keys[0])).toBe(false);
  expect(t.has(keys[0])).toBe(false);
  expect([...t.values()].map((s) => s.key).sort()).toEqual([keys[1], keys[2], 'solo-1'].sort());
  // A key of the batch deleted, then tracked again, is a single key from then on.
  t.set(keys[0], state(keys[0]));
  expect(t.get(keys[0])!.key).toBe(keys[0]);
  for (const k of [keys[0], keys[1], keys[2], 'solo-1']) expect(t.delete(k)).toBe(true);
  expect(t.size).toBe(0);
  expect([...t.values()]).toEqual([]);
});

test('two maps with the same function keep apart', () => {
  const t = new KeyTable();
  const a = mapKeys('f', 2);
  const b = mapKeys('f', 2);
  const sa = t.addBatch(a.prefix, a.keys);
  const sb = t.addBatch(b.prefix, b.keys);
  expect(t.get(a.keys[0])).toBe(sa[0]);
  expect(t.get(b.keys[0])).toBe(sb[0]);
  t.delete(a.keys[0]);
  t.delete(a.keys[1]);
  expect(t.get(b.keys[1])).toBe(sb[1]);
  expect(t.size).toBe(2);
});

test('holder lists are shared by equal contents, and an empty list is the shared empty one', () => {
  const lists = new HolderLists();
  const a = lists.of(['tcp://h:1']);
  expect(lists.of(['tcp://h:1'])).toBe(a);
  expect(lists.of(['tcp://h:2'])).not.toBe(a);
  const two = lists.of(['tcp://h:1', 'tcp://h:2']);
  expect(lists.of(['tcp://h:1', 'tcp://h:2'])).toBe(two);
  expect(two).toEqual(['tcp://h:1', 'tcp://h:2']);
  expect(lists.of([])).toBe(newKeyState('k').who);
});
