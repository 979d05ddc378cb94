import type * as zmq from 'zeromq';
import { Outbox, MAX_OPS_PER_MESSAGE } from '../../src/net';
import { KEYS_PER_OP, type OpSource } from '../../src/net/outbox';
import { decode, type Envelope } from '../../src/protocol';

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

test('postKeys merges keys into the last queued op of its type only, keeping the order of everything', async () => {
  const { socket, messages } = recorder();
  const out = new Outbox(socket, false, 'test');
  const mine = ['a'];
  out.postKeys('', 'release', mine);
  out.postKeys('', 'release', ['b']);
  mine.push('changed after posting'); // the caller's array is not the op's
  out.post('', { t: 'cancel', keys: ['c'] });
  out.postKeys('', 'release', ['d']); // after the cancel: not merged into the first release
  for (let i = 0; i < KEYS_PER_OP; i++) out.postKeys('', 'release', [`e${i}`]);
  out.post('', { t: 'release', keys: ['own'] }); // a posted op is never added to
  out.postKeys('', 'release', ['f']);
  expect(await out.drained()).toBe(true);
  const ops = messages.flat().map((e) => e.op);
  expect(ops.map((o) => o.t)).toEqual([
    'release',
    'cancel',
    'release',
    'release',
    'release',
    'release',
  ]);
  expect(ops[0]).toEqual({ t: 'release', keys: ['a', 'b'] });
  const after = ops.slice(2, 4).flatMap((o) => (o.t === 'release' ? o.keys : []));
  expect(after).toEqual(['d', ...Array.from({ length: KEYS_PER_OP }, (_, i) => `e${i}`)]);
  expect(ops.slice(2, 4).every((o) => o.t === 'release' && o.keys.length <= KEYS_PER_OP)).toBe(
    true,
  );
  expect(ops[4]).toEqual({ t: 'release', keys: ['own'] });
  expect(ops[5]).toEqual({ t: 'release', keys: ['f'] });
  out.close();
});
