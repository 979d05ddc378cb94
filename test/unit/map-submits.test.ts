import type * as zmq from 'zeromq';
import { Outbox, MAX_OPS_PER_MESSAGE } from '../../src/net';
import type { OpSource } from '../../src/net/outbox';
import { decode, unpack, type Envelope } from '../../src/protocol';
import { MapSubmits, isScalarArgs, mapKeys } from '../../src/client/map-submits';

/** A DEALER stand-in that records what the Outbox hands it, decoded. */
function recorder(): { socket: zmq.Dealer; messages: Envelope[][] } {
  const messages: Envelope[][] = [];
  const socket = {
    closed: false,
    send: (parts: Buffer[]) => {
      messages.push(decode(parts));
      return Promise.resolve();
    },
  } as unknown as zmq.Dealer;
  return { socket, messages };
}

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

test("an Outbox sends a source's ops in their place among posted ops, a message at a time", async () => {
  const { socket, messages } = recorder();
  const out = new Outbox(socket, false, 'test');
  let asked = 0;
  const total = MAX_OPS_PER_MESSAGE + 5;
  const source: OpSource = {
    get left() {
      return total - asked;
    },
    next: () =>
      asked < total ? { op: { t: 'release', keys: [`k${asked++}`] }, frames: [] } : null,
  };
  out.post('', { t: 'cancel', keys: ['before'] });
  out.postSource('', source);
  out.post('', { t: 'cancel', keys: ['after'] });
  // Nothing is made until the pump sends: posting returns at once.
  expect(asked).toBe(0);
  expect(out.backlog).toBe(total + 2);
  expect(await out.drained()).toBe(true);
  const ops = messages.flat().map((e) => e.op);
  expect(ops).toHaveLength(total + 2);
  expect(ops[0]).toEqual({ t: 'cancel', keys: ['before'] });
  expect(ops.slice(1, -1).map((o) => (o.t === 'release' ? o.keys[0] : o.t))).toEqual(
    Array.from({ length: total }, (_, i) => `k${i}`),
  );
  expect(ops[total + 1]).toEqual({ t: 'cancel', keys: ['after'] });
  expect(messages.every((m) => m.length <= MAX_OPS_PER_MESSAGE)).toBe(true);
  out.close();
});

test('an Outbox whose only entry is an empty source sends nothing and is drained', async () => {
  const { socket, messages } = recorder();
  const out = new Outbox(socket, false, 'test');
  out.postSource('', { left: 0, next: () => null });
  expect(await out.drained()).toBe(true);
  expect(messages).toHaveLength(0);
  out.close();
});
