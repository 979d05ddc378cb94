import { SchedulerCore } from '../../src/scheduler';
import { decode, encode } from '../../src/protocol';
import { of, task, worker, type P } from '../helpers/core';

/**
 * A ready task whose `resources` or `workers` restriction no connected worker meets: the core
 * warns of it once it has waited `unrunnableAfter`, once per restriction, to every client with
 * such a task; it runs when a worker that meets it joins. No sockets: events in, actions out.
 */
let core: SchedulerCore<P>;
const AFTER = 1000;
const tick = (now: number) => core.handle({ type: 'tick', now });

beforeEach(() => {
  core = new SchedulerCore<P>({ unrunnableAfter: AFTER });
  core.handle([
    { type: 'client-join', client: 'c1', now: 0 },
    { type: 'client-join', client: 'c2', now: 0 },
    { type: 'worker-join', worker: worker('a', 2), now: 0 },
    { type: 'worker-join', worker: worker('b', 1, { resources: { MEM: 4 } }), now: 0 },
  ]);
});
afterEach(() => core.validateState());

test('a task asking for a resource no worker has is warned of after the grace, naming the task, its ask and the offers', () => {
  const gpu = { resources: { GPU: 1 } };
  core.handle({ type: 'submit', client: 'c1', tasks: [task('render-1', [], gpu)] });
  expect(core.tasks.get('render-1')!.state).toBe('queued');
  expect(of(tick(0), 'unrunnable')).toEqual([]);
  expect(of(tick(AFTER - 1), 'unrunnable')).toEqual([]);
  const [n] = of(tick(AFTER), 'unrunnable');
  expect(n).toMatchObject({ key: 'render-1', clients: ['c1'], resources: { GPU: 1 } });
  expect(n.workers).toBeUndefined();
  expect(n.message).toContain('task render-1 can run only with resources GPU=1');
  expect(n.message).toContain('none of the 2 connected workers can');
  expect(n.message).toContain('name-a offers no resources; name-b offers MEM=4');
  expect(n.message).toContain('mpi-cluster-worker --resources GPU=1');
  // Once per restriction: later ticks and more such tasks from the same client say nothing.
  expect(of(tick(5 * AFTER), 'unrunnable')).toEqual([]);
  const more = core.handle({ type: 'submit', client: 'c1', tasks: [task('render-2', [], gpu)] });
  expect(of(more, 'unrunnable')).toEqual([]);
  // Another client queuing under the same restriction is told at once.
  const other = core.handle({ type: 'submit', client: 'c2', tasks: [task('render-3', [], gpu)] });
  expect(of(other, 'unrunnable')).toEqual([
    expect.objectContaining({ key: 'render-3', clients: ['c2'] }),
  ]);
});

test('once a worker with the resource joins, the waiting tasks run and nothing more is said', () => {
  const gpu = { resources: { GPU: 1 } };
  core.handle({ type: 'submit', client: 'c1', tasks: [task('g1', [], gpu), task('g2', [], gpu)] });
  tick(0);
  expect(of(tick(AFTER), 'unrunnable')).toHaveLength(1);
  const joined = core.handle({
    type: 'worker-join',
    worker: worker('gpu', 1, { resources: { GPU: 1 } }),
    now: AFTER,
  });
  expect(of(joined, 'compute').map((c) => [c.key, c.worker])).toEqual([['g1', 'gpu']]);
  expect(of(tick(3 * AFTER), 'unrunnable')).toEqual([]);
  // A busy worker that has the resource is no reason to warn: g2 waits for a free GPU.
  expect(core.tasks.get('g2')!.state).toBe('queued');
  expect(of(tick(9 * AFTER), 'unrunnable')).toEqual([]);
});

test('a worker that joins within the grace means no warning at all', () => {
  core.handle({ type: 'submit', client: 'c1', tasks: [task('g', [], { resources: { GPU: 2 } })] });
  tick(0);
  const joined = core.handle({
    type: 'worker-join',
    worker: worker('gpu', 1, { resources: { GPU: 2 } }),
    now: AFTER / 2,
  });
  expect(of(joined, 'compute').map((c) => c.key)).toEqual(['g']);
  expect(of(tick(2 * AFTER), 'unrunnable')).toEqual([]);
});

test('a workers restriction no connected worker matches is warned of with their names and hosts', () => {
  core.handle({ type: 'submit', client: 'c1', tasks: [task('t', [], { workers: ['node7'] })] });
  tick(0);
  const [n] = of(tick(AFTER), 'unrunnable');
  expect(n).toMatchObject({ key: 't', clients: ['c1'], workers: ['node7'] });
  expect(n.message).toContain('can run only on workers node7 (by name, host, id or address)');
  expect(n.message).toContain('none of the 2 connected workers can: name-a, name-b on host h.');
});

test('when the only worker that could run it leaves, the queued task is warned of again', () => {
  const gpu = { resources: { GPU: 1 } };
  core.handle({ type: 'worker-join', worker: worker('gpu', 1, { resources: { GPU: 1 } }), now: 0 });
  core.handle({ type: 'submit', client: 'c1', tasks: [task('g1', [], gpu), task('g2', [], gpu)] });
  expect(core.tasks.get('g2')!.state).toBe('queued');
  expect(of(tick(2 * AFTER), 'unrunnable')).toEqual([]);
  // The GPU worker dies: g1 comes back too; both wait, and the client hears of it.
  core.handle({ type: 'worker-leave', worker: 'gpu', reason: 'killed' });
  tick(3 * AFTER);
  const [n] = of(tick(4 * AFTER), 'unrunnable');
  expect(n).toMatchObject({ clients: ['c1'], resources: { GPU: 1 } });
  expect(['g1', 'g2']).toContain(n.key);
});

test('a retiring worker counts as none: it takes no new tasks', () => {
  core.handle({ type: 'worker-join', worker: worker('gpu', 1, { resources: { GPU: 1 } }), now: 0 });
  const busy = core.handle({
    type: 'submit',
    client: 'c1',
    tasks: [
      task('long', [], { resources: { GPU: 1 } }),
      task('next', [], { resources: { GPU: 1 } }),
    ],
  });
  expect(of(busy, 'compute').map((c) => c.key)).toEqual(['long']);
  core.handle({ type: 'retire-workers', workers: ['gpu'] });
  tick(0);
  const [n] = of(tick(AFTER), 'unrunnable');
  expect(n).toMatchObject({ key: 'next', clients: ['c1'] });
  expect(n.message).toContain('retiring (no new tasks): name-gpu');
});

test('with no worker connected nothing is judged: every task waits then', () => {
  const bare = new SchedulerCore<P>({ unrunnableAfter: AFTER });
  bare.handle({ type: 'client-join', client: 'c1', now: 0 });
  bare.handle({ type: 'submit', client: 'c1', tasks: [task('g', [], { resources: { GPU: 1 } })] });
  for (const now of [0, AFTER, 10 * AFTER]) {
    expect(of(bare.handle({ type: 'tick', now }), 'unrunnable')).toEqual([]);
  }
  bare.validateState();
});

test('the task-unrunnable op passes the checked decode, and a malformed one is refused', () => {
  const op = {
    t: 'task-unrunnable' as const,
    key: 'g',
    message: 'task g can run only with resources GPU=1',
    resources: { GPU: 1 },
  };
  expect(decode(encode([{ op, frames: [] }]))).toEqual([{ op, frames: [] }]);
  const bad = { ...op, resources: { GPU: 'one' } };
  expect(() => decode(encode([{ op: bad as unknown as typeof op, frames: [] }]))).toThrow(
    /task-unrunnable\.resources/,
  );
});
