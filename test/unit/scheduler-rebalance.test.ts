import { SchedulerCore, type SchedulerAction } from '../../src/scheduler';
import { planRebalance } from '../../src/scheduler/rebalance';
import { of, task, worker, type P } from '../helpers/core';

/** client.rebalance() in the pure core: the plan, the copies asked, the senders' copies freed. */
let core: SchedulerCore<P>;
const MB = 1e6;

const held = () => Object.fromEntries([...core.workers].map(([id, w]) => [id, w.nbytes / MB]));

/** Carries out the acquire-replicas: each receiver reports its copies with add-keys. */
function copy(acts: SchedulerAction<P>[]): SchedulerAction<P>[] {
  return core.handle(
    of(acts, 'acquire-replicas').map((a) => ({
      type: 'add-keys' as const,
      worker: a.worker,
      keys: a.deps.map((d) => d.key),
      nbytes: a.deps.map((d) => core.tasks.get(d.key)!.nbytes),
    })),
  );
}

beforeEach(() => {
  core = new SchedulerCore<P>({ workerTtl: 60_000, clientTtl: 60_000 });
  core.handle({ type: 'client-join', client: 'c1', now: 0 });
  core.handle(['a', 'b', 'c'].map((id) => ({ type: 'worker-join', worker: worker(id), now: 0 })));
  // Six keys of 100 MB, all scattered to a.
  const keys = Array.from({ length: 6 }, (_, i) => `k${i}`);
  core.handle({
    type: 'scattered',
    client: 'c1',
    keys,
    workers: ['a'],
    nbytes: keys.map(() => 100 * MB),
  });
});
afterEach(() => core.validateState());

test('the plan moves the fullest worker’s largest keys to those holding least, to the mean', () => {
  const moves = planRebalance(core.workers, core.tasks, null);
  expect(moves.map((m) => [m.from, m.to])).toEqual([
    ['a', 'b'],
    ['a', 'c'],
    ['a', 'b'],
    ['a', 'c'],
  ]);
  expect(planRebalance(core.workers, core.tasks, new Set(['k0']))).toHaveLength(1);
});

test('a rebalance evens held bytes: copies asked, senders freed once they arrive, then it answers', () => {
  const acts = core.handle({ type: 'rebalance', client: 'c1', req: 7, keys: null, now: 0 });
  expect(of(acts, 'rebalanced')).toEqual([]);
  expect(of(acts, 'acquire-replicas').map((a) => [a.worker, a.deps.length])).toEqual([
    ['b', 2],
    ['c', 2],
  ]);
  const done = copy(acts);
  expect(of(done, 'free-keys').every((f) => f.worker === 'a')).toBe(true);
  expect(of(done, 'free-keys').flatMap((f) => f.keys)).toHaveLength(4);
  expect(of(done, 'rebalanced')).toEqual([
    { type: 'rebalanced', client: 'c1', req: 7, moved: 4, bytes: 400 * MB },
  ]);
  expect(held()).toEqual({ a: 200, b: 200, c: 200 });
  // Balanced already: nothing moves, and it answers at once.
  const again = core.handle({ type: 'rebalance', client: 'c1', req: 8, keys: null, now: 0 });
  expect(of(again, 'rebalanced')).toEqual([
    { type: 'rebalanced', client: 'c1', req: 8, moved: 0, bytes: 0 },
  ]);
});

test('a receiver that dies before its copies arrive: its moves are dropped, the data stays on the sender', () => {
  const acts = core.handle({ type: 'rebalance', client: 'c1', req: 1, keys: null, now: 0 });
  const left = core.handle({ type: 'worker-leave', worker: 'b', reason: 'killed' });
  expect(of(left, 'rebalanced')).toEqual([]);
  const done = copy(of(acts, 'acquire-replicas').filter((a) => a.worker !== 'b'));
  expect(of(done, 'rebalanced')[0]).toMatchObject({ moved: 2, bytes: 200 * MB });
  expect(held()).toEqual({ a: 400, c: 200 });
});

test('an input of a task running on the sender stays there', () => {
  core.handle({
    type: 'submit',
    client: 'c1',
    tasks: [task('use', ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'], { workers: ['a'] })],
  });
  expect(core.tasks.get('use')!.processingOn).toBe('a');
  const acts = core.handle({ type: 'rebalance', client: 'c1', req: 1, keys: null, now: 0 });
  expect(of(acts, 'acquire-replicas')).toEqual([]);
  expect(of(acts, 'rebalanced')[0]).toMatchObject({ moved: 0 });
});

test('a copy that never comes is given up after the timeout', () => {
  core.handle({ type: 'rebalance', client: 'c1', req: 3, keys: ['k0'], now: 0 });
  expect(of(core.handle({ type: 'tick', now: 30_000 }), 'rebalanced')).toEqual([]);
  expect(of(core.handle({ type: 'tick', now: 61_000 }), 'rebalanced')).toEqual([
    { type: 'rebalanced', client: 'c1', req: 3, moved: 0, bytes: 0 },
  ]);
  expect(held()).toEqual({ a: 600, b: 0, c: 0 });
});

test('a paused worker receives nothing', () => {
  core.handle({ type: 'worker-memory', worker: 'b', paused: true });
  const moves = planRebalance(core.workers, core.tasks, null);
  expect(new Set(moves.map((m) => m.to))).toEqual(new Set(['c']));
});
