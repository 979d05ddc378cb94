/**
 * The scheduler's coordination primitives (scheduler/coordination.ts), driven with a real
 * SchedulerCore as the server drives them: requests, ticks and clients leaving in, replies and
 * core events out, the time given as numbers.
 */
import { SchedulerCore } from '../../src/scheduler';
import {
  COORD_HOLDER,
  COORD_LIMITS,
  Coordination,
  type CoordMessage,
  type CoordStep,
} from '../../src/scheduler/coordination';
import type { CoordAction, OpOf } from '../../src/protocol';
import { checkOp } from '../../src/protocol/schema';
import { task, worker, type P } from '../helpers/core';

let core: SchedulerCore<P>;
let co: Coordination<P>;
let req = 0;

beforeEach(() => {
  core = new SchedulerCore<P>({ workerTtl: 60_000, clientTtl: 5000 });
  co = new Coordination<P>(core.tasks);
  for (const c of ['c1', 'c2', 'c3']) core.handle({ type: 'client-join', client: c, now: 0 });
  core.handle({ type: 'worker-join', worker: worker('w'), now: 0 });
});
afterEach(() => core.validateState());

type Reply = OpOf<'coord-reply'> & { client: string; frames: Buffer[] };

/** Runs a step's core events as the server does; returns its replies. */
function drive(step: CoordStep<P>): Reply[] {
  if (step.events.length > 0) core.handle(step.events);
  return step.messages
    .filter((m): m is CoordMessage & { op: OpOf<'coord-reply'> } => m.op.t === 'coord-reply')
    .map((m) => ({ ...m.op, client: m.client, frames: m.frames }));
}

/** A client's request; returns every reply the step made (to anyone), and the request's number. */
function ask(
  client: string,
  action: CoordAction,
  name: string,
  extra: Partial<OpOf<'coord'>> & { value?: string; now?: number } = {},
): { replies: Reply[]; req: number } {
  const { value, now = 0, ...fields } = extra;
  const frames = value === undefined ? [] : [Buffer.from(value)];
  const op: OpOf<'coord'> = { t: 'coord', req: ++req, action, name, nf: frames.length, ...fields };
  return { replies: drive(co.request(client, op, frames, now)), req: op.req };
}

/** The one reply to request `r` among `replies`. */
const replyTo = (replies: Reply[], r: number) => replies.find((x) => x.req === r);
const text = (r: Reply | undefined) => r?.frames.map((f) => f.toString()).join('');

/** A task of c1 computed and in memory on worker w. */
function computed(key: string): void {
  core.handle({ type: 'submit', client: 'c1', tasks: [task(key)] });
  core.handle({ type: 'task-finished', worker: 'w', key, nbytes: 8, duration: 0, inline: null });
}

describe('Variable', () => {
  test('a get waits until a set; waiting gets are answered in arrival order with the value', () => {
    const g1 = ask('c1', 'var-get', 'v');
    const g2 = ask('c2', 'var-get', 'v');
    expect(g1.replies).toEqual([]);
    expect(g2.replies).toEqual([]);
    const s = ask('c3', 'var-set', 'v', { value: 'hello' });
    expect(s.replies.map((r) => r.req)).toEqual([g1.req, g2.req, s.req]);
    expect(text(replyTo(s.replies, g1.req))).toBe('hello');
    expect(replyTo(s.replies, g2.req)!.client).toBe('c2');
    // Later gets return at once.
    const g3 = ask('c1', 'var-get', 'v');
    expect(text(replyTo(g3.replies, g3.req))).toBe('hello');
  });

  test('a timeout ends a get at the first tick past its deadline with ERR_TIMEOUT', () => {
    const g = ask('c1', 'var-get', 'v', { timeout: 500, now: 1000 });
    expect(drive(co.tick(1499))).toEqual([]);
    const [r] = drive(co.tick(1500));
    expect(r).toMatchObject({ req: g.req, error: { code: 'ERR_TIMEOUT' } });
    expect(co.size).toBe(0);
  });

  test('timeout 0 answers at once; delete forgets the value', () => {
    const g = ask('c1', 'var-get', 'v', { timeout: 0 });
    expect(replyTo(g.replies, g.req)!.error!.code).toBe('ERR_TIMEOUT');
    ask('c1', 'var-set', 'v', { value: 'x' });
    ask('c1', 'var-delete', 'v');
    expect(co.size).toBe(0);
    expect(replyTo(ask('c1', 'var-get', 'v', { timeout: 0 }).replies, req)!.error!.code).toBe(
      'ERR_TIMEOUT',
    );
  });

  test('a future in its value stays in the core after its client releases it, until replaced', () => {
    computed('k');
    ask('c1', 'var-set', 'v', { value: 'future k', keys: ['k'] });
    expect(core.clients.has(COORD_HOLDER)).toBe(true);
    core.handle({ type: 'release', client: 'c1', keys: ['k'] });
    expect(core.tasks.get('k')?.state).toBe('memory');
    ask('c1', 'var-set', 'v', { value: 'plain' });
    expect(core.tasks.has('k')).toBe(false);
    // The holder is a client of the core only while it holds keys.
    expect(core.clients.has(COORD_HOLDER)).toBe(false);
  });

  test('a get hands the value’s futures to the getter: wanted by it before the holder lets go', () => {
    computed('k');
    ask('c1', 'var-set', 'v', { value: 'future k', keys: ['k'] });
    core.handle({ type: 'release', client: 'c1', keys: ['k'] });
    ask('c2', 'var-get', 'v');
    ask('c1', 'var-delete', 'v');
    expect(core.tasks.get('k')?.wantedBy).toEqual(new Set(['c2']));
  });

  test('a future the scheduler does not hold cannot be stored (ERR_COORD_MISUSE)', () => {
    const s = ask('c1', 'var-set', 'v', { value: 'x', keys: ['never-submitted'] });
    expect(replyTo(s.replies, s.req)!.error!.code).toBe('ERR_COORD_MISUSE');
    expect(co.size).toBe(0);
  });
});

describe('Queue', () => {
  test('items come out first in, first out; a get waits for an item', () => {
    ask('c1', 'queue-put', 'q', { value: 'a' });
    ask('c1', 'queue-put', 'q', { value: 'b' });
    expect(replyTo(ask('c2', 'queue-size', 'q').replies, req)!.n).toBe(2);
    expect(text(replyTo(ask('c2', 'queue-get', 'q').replies, req))).toBe('a');
    expect(text(replyTo(ask('c2', 'queue-get', 'q').replies, req))).toBe('b');
    const g = ask('c2', 'queue-get', 'q');
    expect(g.replies).toEqual([]);
    const p = ask('c1', 'queue-put', 'q', { value: 'c' });
    expect(text(replyTo(p.replies, g.req))).toBe('c');
    expect(co.size).toBe(0);
  });

  test('a put into a full queue waits for room, in order; a put past its timeout fails', () => {
    ask('c1', 'queue-put', 'q', { value: 'a', max: 1 });
    const p1 = ask('c1', 'queue-put', 'q', { value: 'b', max: 1 });
    const p2 = ask('c3', 'queue-put', 'q', { value: 'c', max: 1, timeout: 100 });
    expect([...p1.replies, ...p2.replies]).toEqual([]);
    const g = ask('c2', 'queue-get', 'q');
    expect(text(replyTo(g.replies, g.req))).toBe('a');
    expect(replyTo(g.replies, p1.req)).toMatchObject({ client: 'c1' });
    const [timedOut] = drive(co.tick(100));
    expect(timedOut).toMatchObject({ req: p2.req, error: { code: 'ERR_TIMEOUT' } });
    expect(text(replyTo(ask('c2', 'queue-get', 'q').replies, req))).toBe('b');
  });

  test('maxsize named again differently is a misuse; beyond the scheduler bound is refused', () => {
    ask('c1', 'queue-put', 'q', { value: 'a', max: 2 });
    const again = ask('c1', 'queue-put', 'q', { value: 'a', max: 3 });
    expect(replyTo(again.replies, again.req)!.error!.code).toBe('ERR_COORD_MISUSE');
    // A queue used without maxsize takes the one fixed before.
    expect(
      replyTo(ask('c2', 'queue-put', 'q', { value: 'b' }).replies, req)!.error,
    ).toBeUndefined();
    const huge = ask('c1', 'queue-put', 'q2', { value: 'a', max: COORD_LIMITS.maxQueueItems + 1 });
    expect(replyTo(huge.replies, huge.req)!.error!.code).toBe('ERR_COORD_LIMIT');
  });

  test('a taken item’s future goes to the getter, and the holder lets go of it', () => {
    computed('k');
    ask('c1', 'queue-put', 'q', { value: 'k', keys: ['k'] });
    core.handle({ type: 'release', client: 'c1', keys: ['k'] });
    ask('c2', 'queue-get', 'q');
    expect(core.tasks.get('k')?.wantedBy).toEqual(new Set(['c2']));
    expect(co.heldKeys).toEqual([]);
  });
});

describe('Event', () => {
  test('waits before set are answered true on set; later waits return at once; clear resets', () => {
    const w1 = ask('c1', 'event-wait', 'e');
    const w2 = ask('c2', 'event-wait', 'e', { timeout: 1000 });
    const s = ask('c3', 'event-set', 'e');
    expect(replyTo(s.replies, w1.req)!.flag).toBe(1);
    expect(replyTo(s.replies, w2.req)!.flag).toBe(1);
    expect(replyTo(ask('c1', 'event-is-set', 'e').replies, req)!.flag).toBe(1);
    expect(replyTo(ask('c1', 'event-wait', 'e').replies, req)!.flag).toBe(1);
    ask('c1', 'event-clear', 'e');
    expect(replyTo(ask('c1', 'event-is-set', 'e').replies, req)!.flag).toBe(0);
    expect(co.size).toBe(0);
  });

  test('a wait past its timeout answers false', () => {
    const w = ask('c1', 'event-wait', 'e', { timeout: 250, now: 0 });
    expect(drive(co.tick(250))).toEqual([expect.objectContaining({ req: w.req, flag: 0 })]);
  });
});

describe('Lock', () => {
  test('one holder at a time; release passes it to the waiters in order', () => {
    const a = ask('c1', 'lock-acquire', 'l', { token: 'a' });
    expect(replyTo(a.replies, a.req)!.flag).toBe(1);
    const b = ask('c2', 'lock-acquire', 'l', { token: 'b' });
    const c = ask('c3', 'lock-acquire', 'l', { token: 'c' });
    expect([...b.replies, ...c.replies]).toEqual([]);
    expect(replyTo(ask('c1', 'lock-locked', 'l').replies, req)!.flag).toBe(1);
    const r1 = ask('c1', 'lock-release', 'l', { token: 'a' });
    expect(replyTo(r1.replies, b.req)!.flag).toBe(1);
    expect(replyTo(r1.replies, c.req)).toBeUndefined();
  });

  test('a release by another holder is a misuse; acquire with timeout 0 does not wait', () => {
    ask('c1', 'lock-acquire', 'l', { token: 'a' });
    // Another Lock object of the same client is another holder.
    const wrong = ask('c1', 'lock-release', 'l', { token: 'other' });
    expect(replyTo(wrong.replies, wrong.req)!.error!.code).toBe('ERR_COORD_MISUSE');
    const now = ask('c2', 'lock-acquire', 'l', { token: 'b', timeout: 0 });
    expect(replyTo(now.replies, now.req)!.flag).toBe(0);
  });

  test('a lock whose client leaves goes to the next waiter; the leaver’s waits are dropped', () => {
    ask('c1', 'lock-acquire', 'l', { token: 'a' });
    ask('c1', 'lock-acquire', 'l2', { token: 'a' });
    const other = ask('c2', 'lock-acquire', 'l2', { token: 'x' });
    const b = ask('c2', 'lock-acquire', 'l', { token: 'b' });
    // c2 leaves while waiting on l2: its wait there is dropped.
    drive(co.clientLeft('c2', 0));
    const c = ask('c3', 'lock-acquire', 'l', { token: 'c' });
    const gone = drive(co.clientLeft('c1', 0));
    expect(gone.map((r) => r.req)).toEqual([c.req]);
    expect([other.req, b.req]).not.toContain(gone[0].req);
    expect(replyTo(ask('c3', 'lock-locked', 'l2').replies, req)!.flag).toBe(0);
  });

  test('an acquire past its timeout answers false and leaves the queue', () => {
    ask('c1', 'lock-acquire', 'l', { token: 'a' });
    const b = ask('c2', 'lock-acquire', 'l', { token: 'b', timeout: 300 });
    expect(drive(co.tick(300))).toEqual([expect.objectContaining({ req: b.req, flag: 0 })]);
    const r = ask('c1', 'lock-release', 'l', { token: 'a' });
    expect(r.replies.map((x) => x.req)).toEqual([r.req]);
    expect(co.size).toBe(0);
  });
});

describe('Semaphore', () => {
  test('at most maxLeases at once; released leases go to waiters in order', () => {
    for (const t of ['a', 'b']) ask('c1', 'sem-acquire', 's', { token: t, max: 2 });
    expect(replyTo(ask('c1', 'sem-value', 's').replies, req)!.n).toBe(2);
    const c = ask('c2', 'sem-acquire', 's', { token: 'c', max: 2 });
    const d = ask('c3', 'sem-acquire', 's', { token: 'd', max: 2 });
    expect([...c.replies, ...d.replies]).toEqual([]);
    const r = ask('c1', 'sem-release', 's', { token: 'a' });
    expect(replyTo(r.replies, c.req)!.flag).toBe(1);
    expect(replyTo(r.replies, d.req)).toBeUndefined();
  });

  test('the leases of a client that leaves are freed for the waiters', () => {
    ask('c1', 'sem-acquire', 's', { token: 'a', max: 1 });
    ask('c1', 'sem-acquire', 's', { token: 'a', max: 1, timeout: 10_000 });
    const b = ask('c2', 'sem-acquire', 's', { token: 'b', max: 1 });
    expect(drive(co.clientLeft('c1', 0))).toEqual([
      expect.objectContaining({ req: b.req, flag: 1 }),
    ]);
    expect(replyTo(ask('c2', 'sem-value', 's').replies, req)!.n).toBe(1);
  });

  test('another maxLeases, a release without a lease and a bad maxLeases are refused', () => {
    ask('c1', 'sem-acquire', 's', { token: 'a', max: 2 });
    const other = ask('c1', 'sem-acquire', 's', { token: 'a', max: 3 });
    expect(replyTo(other.replies, other.req)!.error!.code).toBe('ERR_COORD_MISUSE');
    const none = ask('c2', 'sem-release', 's', { token: 'z' });
    expect(replyTo(none.replies, none.req)!.error!.code).toBe('ERR_COORD_MISUSE');
    const bad = ask('c2', 'sem-acquire', 's2', { token: 'z', max: 0 });
    expect(replyTo(bad.replies, bad.req)!.error!.code).toBe('ERR_COORD_LIMIT');
    const timedOut = ask('c2', 'sem-acquire', 's', { token: 'z', max: 2, timeout: 50 });
    expect(replyTo(timedOut.replies, timedOut.req)!.flag).toBe(1);
  });
});

describe('datasets', () => {
  test('publish, list, get and unpublish; a name taken or missing is a coded error', () => {
    computed('k');
    ask('c1', 'dataset-publish', 'd', { value: 'data', keys: ['k'] });
    const again = ask('c1', 'dataset-publish', 'd', { value: 'other' });
    expect(replyTo(again.replies, again.req)!.error!.code).toBe('ERR_DATASET_EXISTS');
    expect(replyTo(ask('c2', 'dataset-list', '').replies, req)!.names).toEqual(['d']);
    expect(text(replyTo(ask('c2', 'dataset-get', 'd').replies, req))).toBe('data');
    ask('c1', 'dataset-publish', 'd', { value: 'newer', override: 1 });
    expect(text(replyTo(ask('c2', 'dataset-get', 'd').replies, req))).toBe('newer');
    ask('c1', 'dataset-unpublish', 'd');
    const missing = ask('c2', 'dataset-get', 'd');
    expect(replyTo(missing.replies, missing.req)!.error!.code).toBe('ERR_DATASET_MISSING');
  });

  test('a published future outlives its client; unpublishing lets it go', () => {
    computed('k');
    ask('c1', 'dataset-publish', 'd', { value: 'k', keys: ['k'] });
    core.handle({ type: 'client-leave', client: 'c1', reason: 'gone' });
    drive(co.clientLeft('c1', 0));
    expect(core.tasks.get('k')?.state).toBe('memory');
    // The holder is kept seen: the core's client timeout never removes it.
    drive(co.tick(4000));
    core.handle([
      { type: 'client-seen', client: 'c2', now: 9000 },
      { type: 'tick', now: 9000 },
    ]);
    drive(co.tick(9000));
    core.handle({ type: 'tick', now: 9200 });
    expect(core.tasks.has('k')).toBe(true);
    ask('c2', 'dataset-unpublish', 'd');
    expect(core.tasks.has('k')).toBe(false);
  });

  test('want() of a key the core no longer holds cancels it for that client', () => {
    const step = co.want('c2', ['gone'], 0);
    expect(step.messages).toEqual([
      { client: 'c2', op: { t: 'key-cancelled', key: 'gone' }, frames: [] },
    ]);
  });
});

describe('bounds', () => {
  const small = { ...COORD_LIMITS, maxObjects: 2, maxValueBytes: 10, maxTotalBytes: 15 };
  beforeEach(() => (co = new Coordination<P>(core.tasks, { ...small, maxWaitersPerClient: 2 })));

  test('names are 1 to 256 characters', () => {
    const long = ask('c1', 'var-set', 'x'.repeat(257), { value: 'v' });
    expect(replyTo(long.replies, long.req)!.error!.code).toBe('ERR_COORD_LIMIT');
    const empty = ask('c1', 'event-set', '');
    expect(replyTo(empty.replies, empty.req)!.error!.code).toBe('ERR_COORD_LIMIT');
  });

  test('named objects, one value’s bytes and all values’ bytes are bounded', () => {
    ask('c1', 'var-set', 'a', { value: '12345678' });
    const big = ask('c1', 'var-set', 'b', { value: '12345678901' });
    expect(replyTo(big.replies, big.req)!.error!.message).toMatch(/for one value/);
    const total = ask('c1', 'var-set', 'b', { value: '12345678' });
    expect(replyTo(total.replies, total.req)!.error!.message).toMatch(/coordination values/);
    ask('c1', 'event-set', 'e');
    const third = ask('c1', 'event-set', 'f');
    expect(replyTo(third.replies, third.req)!.error!.code).toBe('ERR_COORD_LIMIT');
    expect(co.size).toBe(2);
  });

  test('waits per client are bounded; a wait that ends frees its place', () => {
    ask('c1', 'event-wait', 'e', { timeout: 10 });
    ask('c1', 'event-wait', 'e');
    const third = ask('c1', 'event-wait', 'e');
    expect(replyTo(third.replies, third.req)!.error!.code).toBe('ERR_COORD_LIMIT');
    drive(co.tick(10));
    const again = ask('c1', 'event-wait', 'e');
    expect(again.replies).toEqual([]);
  });

  test('futures per value are bounded', () => {
    co = new Coordination<P>(core.tasks, { ...COORD_LIMITS, maxKeysPerValue: 1 });
    computed('k1');
    computed('k2');
    const two = ask('c1', 'var-set', 'v', { value: 'v', keys: ['k1', 'k2'] });
    expect(replyTo(two.replies, two.req)!.error!.code).toBe('ERR_COORD_LIMIT');
    expect(co.heldKeys).toEqual([]);
  });
});

describe('the wire', () => {
  test('coordination ops are checked on receipt: an unknown action or a malformed error is dropped', () => {
    const good = { t: 'coord', req: 1, action: 'var-get', name: 'v', timeout: 5, nf: 0 };
    expect(checkOp(good)).toBeNull();
    expect(checkOp({ ...good, action: 'var-explode' })).toMatch(/coord.action should be one of/);
    expect(checkOp({ ...good, keys: [1] })).toMatch(/coord.keys/);
    expect(checkOp({ t: 'coord-reply', req: 1, nf: 0, flag: 1 })).toBeNull();
    const badError = { t: 'coord-reply', req: 1, nf: 0, error: { name: 'E' } };
    expect(checkOp(badError)).toMatch(/coord-reply.error.message/);
    expect(checkOp({ t: 'want-keys', keys: ['k'] })).toBeNull();
  });
});

test('a primitive with no client and none connected in this process says ERR_NO_CLIENT', () => {
  jest.isolateModules(() => {
    // A fresh module registry: no client has connected in it.
    const m =
      require('../../src/client/coordination') as typeof import('../../src/client/coordination');
    expect(() => new m.Variable('v').client).toThrow(
      expect.objectContaining({ code: 'ERR_NO_CLIENT' }),
    );
  });
});
