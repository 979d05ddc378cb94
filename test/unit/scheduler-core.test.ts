import { SchedulerCore, type SchedulerAction } from '../../src/scheduler';
import { of, task, worker, type P } from '../helpers/core';

let core: SchedulerCore<P>;

const finish = (w: string, key: string, duration = 1) =>
  core.handle({ type: 'task-finished', worker: w, key, nbytes: 10, duration, inline: null });

/** Ticks every 250 ms from `from` to `to`, as the driver's timer sends them. */
const ticks = (from: number, to: number) => {
  const out: { type: 'tick'; now: number }[] = [];
  for (let now = from; now <= to; now += 250) out.push({ type: 'tick', now });
  return out;
};

beforeEach(() => {
  core = new SchedulerCore<P>({ workerTtl: 1000, clientTtl: 5000 });
  core.handle({ type: 'client-join', client: 'c1', now: 0 });
});
afterEach(() => core.validateState());

test('a task with no deps goes to the least busy worker and its result reaches the client', () => {
  core.handle([
    { type: 'worker-join', worker: worker('a'), now: 0 },
    { type: 'worker-join', worker: worker('b'), now: 0 },
  ]);
  const acts = core.handle({ type: 'submit', client: 'c1', tasks: [task('x'), task('y')] });
  const computes = of(acts, 'compute');
  expect(computes.map((c) => c.worker).sort()).toEqual(['a', 'b']);
  const done = of(finish(computes[0].worker, computes[0].key), 'key-done');
  expect(done).toEqual([
    expect.objectContaining({
      client: 'c1',
      key: computes[0].key,
      who: [`tcp://h:${computes[0].worker}`],
    }),
  ]);
});

test('tasks beyond free slots are queued and handed out as slots free up, highest priority first', () => {
  core.handle({ type: 'worker-join', worker: worker('a'), now: 0 });
  const acts = core.handle({
    type: 'submit',
    client: 'c1',
    tasks: [task('t1'), task('low', [], { priority: -1 }), task('high', [], { priority: 5 })],
  });
  expect(of(acts, 'compute').map((c) => c.key)).toEqual(['t1']);
  expect(core.tasks.get('high')!.state).toBe('queued');
  expect(of(finish('a', 't1'), 'compute').map((c) => c.key)).toEqual(['high']);
});

test('a dependent waits for its inputs and runs where they are', () => {
  core.handle([
    { type: 'worker-join', worker: worker('a'), now: 0 },
    { type: 'worker-join', worker: worker('b'), now: 0 },
  ]);
  core.handle({ type: 'submit', client: 'c1', tasks: [task('x'), task('y', ['x'])] });
  expect(core.tasks.get('y')!.state).toBe('waiting');
  const w = core.tasks.get('x')!.processingOn!;
  const acts = finish(w, 'x');
  const [c] = of(acts, 'compute');
  expect(c).toMatchObject({ key: 'y', worker: w, deps: [{ key: 'x', who: [`tcp://h:${w}`] }] });
});

test('a diamond runs each task once and frees intermediates nobody wants', () => {
  core.handle({ type: 'worker-join', worker: worker('a', 4), now: 0 });
  core.handle({
    type: 'submit',
    client: 'c1',
    tasks: [task('a1'), task('l', ['a1']), task('r', ['a1']), task('z', ['l', 'r'])],
  });
  core.handle({ type: 'release', client: 'c1', keys: ['a1', 'l', 'r'] });
  finish('a', 'a1');
  finish('a', 'l');
  const acts = finish('a', 'r');
  expect(of(acts, 'compute').map((c) => c.key)).toEqual(['z']);
  const freed = of(acts, 'free-keys').flatMap((f) => f.keys);
  expect(freed).toContain('a1');
  const end = finish('a', 'z');
  expect(
    of(end, 'free-keys')
      .flatMap((f) => f.keys)
      .sort(),
  ).toEqual(['l', 'r']);
  expect(of(end, 'key-done').map((d) => d.key)).toEqual(['z']);
});

test('an error reaches the client and every dependent with the same error', () => {
  core.handle({ type: 'worker-join', worker: worker('a'), now: 0 });
  core.handle({
    type: 'submit',
    client: 'c1',
    tasks: [task('x'), task('y', ['x']), task('z', ['y'])],
  });
  const acts = core.handle({
    type: 'task-erred',
    worker: 'a',
    key: 'x',
    error: { name: 'Error', message: 'boom' },
    duration: 0,
  });
  const erred = of(acts, 'key-erred');
  expect(erred.map((e) => e.key).sort()).toEqual(['x', 'y', 'z']);
  expect(erred.every((e) => e.error.message === 'boom' && e.error.worker === 'name-a')).toBe(true);
});

test('retries run a failed task again before reporting the error', () => {
  core.handle({ type: 'worker-join', worker: worker('a'), now: 0 });
  core.handle({ type: 'submit', client: 'c1', tasks: [task('x', [], { retries: 1 })] });
  const err = { name: 'Error', message: 'flaky' };
  const again = core.handle({ type: 'task-erred', worker: 'a', key: 'x', error: err, duration: 0 });
  expect(of(again, 'compute').map((c) => c.key)).toEqual(['x']);
  const last = core.handle({ type: 'task-erred', worker: 'a', key: 'x', error: err, duration: 0 });
  expect(of(last, 'key-erred')).toHaveLength(1);
});

test('a lost worker: running tasks move, results only it held are recomputed from lineage', () => {
  core.handle([
    { type: 'worker-join', worker: worker('a'), now: 0 },
    { type: 'worker-join', worker: worker('b'), now: 0 },
  ]);
  core.handle({ type: 'submit', client: 'c1', tasks: [task('x', [], { workers: ['a'] })] });
  finish('a', 'x');
  core.handle({ type: 'submit', client: 'c1', tasks: [task('y', ['x'], { workers: ['b'] })] });
  // y is processing on b; a dies taking x with it
  const acts = core.handle({ type: 'worker-leave', worker: 'a', reason: 'killed' });
  expect(of(acts, 'key-lost').map((l) => l.key)).toEqual(['x']);
  expect(of(acts, 'cancel-compute')).toEqual([
    { type: 'cancel-compute', worker: 'b', keys: ['y'] },
  ]);
  expect(core.tasks.get('x')!.state).toBe('queued'); // restricted to a, which is gone
  core.handle({ type: 'worker-join', worker: worker('a'), now: 1 });
  expect(core.tasks.get('x')!.state).toBe('processing');
  finish('a', 'x');
  expect(core.tasks.get('y')!.state).toBe('processing');
  expect(core.story('x').map((t) => t.to)).toEqual(
    expect.arrayContaining(['memory', 'released', 'waiting', 'queued', 'processing']),
  );
});

test('a task whose workers keep dying errs with ERR_KILLED_WORKER after 3 deaths', () => {
  let acts: SchedulerAction<P>[] = [];
  core.handle({ type: 'submit', client: 'c1', tasks: [task('bomb')] });
  for (let i = 0; i < 3; i++) {
    core.handle({ type: 'worker-join', worker: worker(`w${i}`), now: 0 });
    acts = core.handle({ type: 'worker-leave', worker: `w${i}`, reason: 'segfault' });
  }
  const [e] = of(acts, 'key-erred');
  expect(e.error.code).toBe('ERR_KILLED_WORKER');
});

test('workers silent past the ttl are removed by a tick; their tasks are rescheduled', () => {
  core.handle([
    { type: 'worker-join', worker: worker('a'), now: 0 },
    { type: 'worker-join', worker: worker('b'), now: 0 },
  ]);
  core.handle({ type: 'submit', client: 'c1', tasks: [task('x', [], { workers: ['a'] })] });
  core.handle({ type: 'worker-seen', worker: 'b', now: 1500 });
  const acts = core.handle(ticks(250, 2000));
  expect(of(acts, 'worker-removed').map((r) => r.worker)).toEqual(['a']);
  expect(core.workers.has('b')).toBe(true);
});

test('a stall of the scheduler itself removes no one; silence after it still does', () => {
  core.handle({ type: 'worker-join', worker: worker('a'), now: 0 });
  core.handle(ticks(250, 750));
  // 30 s in which the scheduler could not listen (a long synchronous step in its process).
  expect(of(core.handle({ type: 'tick', now: 30_750 }), 'worker-removed')).toEqual([]);
  // Silence before the stall (750 ms) and after it adds up to the 1 s ttl at 31 s.
  expect(of(core.handle(ticks(31_000, 31_000)), 'worker-removed')).toEqual([]);
  const later = core.handle(ticks(31_250, 31_250));
  expect(of(later, 'worker-removed').map((r) => r.worker)).toEqual(['a']);
});

test('a client that leaves releases its keys, and finished data is freed on workers', () => {
  core.handle({ type: 'worker-join', worker: worker('a'), now: 0 });
  core.handle({ type: 'submit', client: 'c1', tasks: [task('x')] });
  finish('a', 'x');
  const acts = core.handle({ type: 'client-leave', client: 'c1', reason: 'gone' });
  expect(of(acts, 'free-keys')).toEqual([{ type: 'free-keys', worker: 'a', keys: ['x'] }]);
  expect(core.tasks.size).toBe(0);
});

test('cancel stops a running task and its dependents and tells the client', () => {
  core.handle({ type: 'worker-join', worker: worker('a'), now: 0 });
  core.handle({ type: 'submit', client: 'c1', tasks: [task('x'), task('y', ['x'])] });
  const acts = core.handle({ type: 'cancel', client: 'c1', keys: ['x'] });
  expect(
    of(acts, 'key-cancelled')
      .map((c) => c.key)
      .sort(),
  ).toEqual(['x', 'y']);
  expect(of(acts, 'cancel-compute')).toHaveLength(1);
  expect(core.tasks.size).toBe(0);
  // the late result of the cancelled task is freed on the worker
  expect(of(finish('a', 'x'), 'free-keys')).toHaveLength(1);
});

test('a new worker takes queued work at once (dynamic scaling)', () => {
  core.handle({ type: 'worker-join', worker: worker('a'), now: 0 });
  core.handle({ type: 'submit', client: 'c1', tasks: [task('t1'), task('t2'), task('t3')] });
  const acts = core.handle({ type: 'worker-join', worker: worker('b'), now: 0 });
  expect(of(acts, 'compute')).toEqual([expect.objectContaining({ worker: 'b', key: 't2' })]);
});

test('resources restrict placement and are reserved while a task runs', () => {
  core.handle({ type: 'worker-join', worker: worker('cpu', 2), now: 0 });
  core.handle({ type: 'worker-join', worker: worker('gpu', 2, { resources: { GPU: 1 } }), now: 0 });
  const acts = core.handle({
    type: 'submit',
    client: 'c1',
    tasks: [task('g1', [], { resources: { GPU: 1 } }), task('g2', [], { resources: { GPU: 1 } })],
  });
  expect(of(acts, 'compute')).toEqual([expect.objectContaining({ key: 'g1', worker: 'gpu' })]);
  expect(of(finish('gpu', 'g1'), 'compute')).toEqual([
    expect.objectContaining({ key: 'g2', worker: 'gpu' }),
  ]);
});

test('scattered data is in memory at once; losing its only worker errs it (no lineage)', () => {
  core.handle({ type: 'worker-join', worker: worker('a'), now: 0 });
  const acts = core.handle({
    type: 'scattered',
    client: 'c1',
    keys: ['s'],
    workers: ['a'],
    nbytes: [5],
  });
  expect(of(acts, 'key-done').map((d) => d.key)).toEqual(['s']);
  const lost = core.handle({ type: 'worker-leave', worker: 'a', reason: 'killed' });
  expect(of(lost, 'key-erred')[0].error.code).toBe('ERR_WORKER_LOST');
});

test('submitting a key that exists shares it instead of computing twice', () => {
  core.handle({ type: 'client-join', client: 'c2', now: 0 });
  core.handle({ type: 'worker-join', worker: worker('a'), now: 0 });
  core.handle({ type: 'submit', client: 'c1', tasks: [task('same')] });
  const again = core.handle({ type: 'submit', client: 'c2', tasks: [task('same')] });
  expect(of(again, 'compute')).toHaveLength(0);
  expect(
    of(finish('a', 'same'), 'key-done')
      .map((d) => d.client)
      .sort(),
  ).toEqual(['c1', 'c2']);
});

test('missing-data from a peer drops the bad holder and retries the dependent', () => {
  core.handle([
    { type: 'worker-join', worker: worker('a'), now: 0 },
    { type: 'worker-join', worker: worker('b'), now: 0 },
  ]);
  core.handle({ type: 'submit', client: 'c1', tasks: [task('x', [], { workers: ['a'] })] });
  finish('a', 'x');
  core.handle({ type: 'submit', client: 'c1', tasks: [task('y', ['x'], { workers: ['b'] })] });
  const acts = core.handle({
    type: 'missing-data',
    worker: 'b',
    key: 'y',
    dep: 'x',
    from: 'tcp://h:a',
  });
  expect(of(acts, 'compute').map((c) => `${c.key}@${c.worker}`)).toEqual(['x@a']);
});

test('a task that depends on itself errs at once instead of waiting for ever', () => {
  core.handle({ type: 'worker-join', worker: worker('a'), now: 0 });
  const acts = core.handle({ type: 'submit', client: 'c1', tasks: [task('loop', ['loop'])] });
  expect(of(acts, 'key-erred')).toEqual([
    expect.objectContaining({
      key: 'loop',
      error: expect.objectContaining({ name: 'CyclicDependency' }),
    }),
  ]);
  expect(of(acts, 'compute')).toEqual([]);
  core.handle({ type: 'release', client: 'c1', keys: ['loop'] });
  expect(core.tasks.size).toBe(0);
});
