import { Lru } from '../../src/util/lru';

test('past its capacity the least recently used entry goes', () => {
  const lru = new Lru<string, number>(2);
  lru.set('a', 1);
  lru.set('b', 2);
  expect(lru.get('a')).toBe(1); // a is now newer than b
  lru.set('c', 3);
  expect([...lru.keys()]).toEqual(['a', 'c']);
  expect(lru.get('b')).toBeUndefined();
});

test('two sides making the same calls stay in step: the sender knows what the receiver holds', () => {
  const sender = new Lru<string, true>(3);
  const receiver = new Lru<string, string>(3);
  let x = 7;
  for (let i = 0; i < 10_000; i++) {
    x = (x * 48271) % 2147483647;
    const id = `fn${x % 8}`;
    if (!sender.use(id, true)) receiver.set(id, `spec of ${id}`); // the definition travels
    expect(receiver.get(id)).toBe(`spec of ${id}`); // the use finds it
  }
  expect([...sender.keys()]).toEqual([...receiver.keys()]);
});

test('a capacity that is not a positive integer is refused', () => {
  expect(() => new Lru(0)).toThrow(RangeError);
});
