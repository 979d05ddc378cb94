import { SchedulerCore, type SchedulerAction } from '../../src/scheduler';
import { Dashboard } from '../../src/observe/dashboard';
import { memoryFigures } from '../../src/scheduler/memory';
import { SchedulerMetrics } from '../../src/observe/metrics';
import { of, task, worker, type P } from '../helpers/core';

/**
 * Placement that sees memory (issue 20), in the pure core: paused workers get nothing, workers
 * above their memory target come last, results spread by the bytes each worker holds, and the
 * memory figures follow results between heartbeats.
 */
let core: SchedulerCore<P>;
const MB = 1e6;

const finish = (w: string, key: string, nbytes = 10, duration = 1) =>
  core.handle({ type: 'task-finished', worker: w, key, nbytes, duration, inline: null });
const computesOn = (acts: SchedulerAction<P>[], w: string) =>
  of(acts, 'compute')
    .filter((c) => c.worker === w)
    .map((c) => c.key);

beforeEach(() => {
  core = new SchedulerCore<P>({ workerTtl: 60_000, clientTtl: 60_000 });
  core.handle({ type: 'client-join', client: 'c1', now: 0 });
  core.handle([
    { type: 'worker-join', worker: worker('a', 1, { memoryLimit: 1000 * MB }), now: 0 },
    { type: 'worker-join', worker: worker('b', 1, { memoryLimit: 1000 * MB }), now: 0 },
  ]);
});
afterEach(() => core.validateState());

test('a paused worker gets no task while the other takes the queue, and gets work again once unpaused', () => {
  core.handle({ type: 'worker-memory', worker: 'a', paused: true });
  const tasks = ['t0', 't1', 't2', 't3'].map((k) => task(k));
  const first = core.handle({ type: 'submit', client: 'c1', tasks });
  expect(computesOn(first, 'a')).toEqual([]);
  expect(computesOn(first, 'b')).toEqual(['t0']);
  // b works through the queue alone.
  expect(computesOn(finish('b', 't0'), 'b')).toEqual(['t1']);
  expect(core.workers.get('a')!.processing.size).toBe(0);
  // Unpaused: a takes the next queued task at once.
  const resumed = core.handle({ type: 'worker-memory', worker: 'a', paused: false });
  expect(computesOn(resumed, 'a')).toEqual(['t2']);
  expect(core.story('t2').at(-1)).toMatchObject({ to: 'processing' });
});

test('pausing keeps the tasks a worker was given; they finish there', () => {
  core.handle({ type: 'submit', client: 'c1', tasks: [task('x', [], { workers: ['a'] })] });
  core.handle({ type: 'worker-memory', worker: 'a', paused: true });
  expect(core.tasks.get('x')!.processingOn).toBe('a');
  expect(of(finish('a', 'x'), 'key-done').map((d) => d.key)).toEqual(['x']);
  // A task only a may run waits for it to unpause.
  core.handle({ type: 'submit', client: 'c1', tasks: [task('y', [], { workers: ['a'] })] });
  expect(core.tasks.get('y')!.state).toBe('queued');
  expect(
    computesOn(core.handle({ type: 'worker-memory', worker: 'a', paused: false }), 'a'),
  ).toEqual(['y']);
});

test('a worker above its memory target gets no task while another has room, and one when none has', () => {
  // 700 MB of its 1000 MB limit in use (target: 600 MB).
  core.handle({ type: 'worker-memory', worker: 'a', managed: 100 * MB, rss: 700 * MB });
  const acts = core.handle({ type: 'submit', client: 'c1', tasks: [task('x'), task('y')] });
  expect(computesOn(acts, 'b')).toEqual(['x']);
  // b is busy: a still works rather than leave the task waiting.
  expect(computesOn(acts, 'a')).toEqual(['y']);
});

test('results landing between heartbeats count at once: a worker crosses its target without a report', () => {
  core.handle([
    { type: 'worker-memory', worker: 'a', managed: 0, rss: 100 * MB },
    { type: 'worker-memory', worker: 'b', managed: 0, rss: 100 * MB },
  ]);
  core.handle({ type: 'submit', client: 'c1', tasks: [task('big', [], { workers: ['a'] })] });
  finish('a', 'big', 550 * MB);
  expect(memoryFigures(core.workers.get('a')!)).toMatchObject({
    managed: 550 * MB,
    unmanaged: 100 * MB,
  });
  // a holds 650 MB in all now; a task free to go anywhere goes to b, though a comes first.
  const acts = core.handle({ type: 'submit', client: 'c1', tasks: [task('next')] });
  expect(computesOn(acts, 'b')).toEqual(['next']);
});

test('an input held only by a worker above target draws its dependent there; one held elsewhere too does not', () => {
  core.handle({ type: 'worker-memory', worker: 'a', managed: 0, rss: 700 * MB });
  core.handle({ type: 'submit', client: 'c1', tasks: [task('d', [], { workers: ['a'] })] });
  finish('a', 'd', MB);
  const acts = core.handle({ type: 'submit', client: 'c1', tasks: [task('use', ['d'])] });
  expect(computesOn(acts, 'a')).toEqual(['use']);
  finish('a', 'use');
  // b gets a copy: the input is no longer only on a, and b is below its target.
  core.handle({ type: 'add-keys', worker: 'b', keys: ['d'], nbytes: [MB] });
  const again = core.handle({ type: 'submit', client: 'c1', tasks: [task('use2', ['d'])] });
  expect(computesOn(again, 'b')).toEqual(['use2']);
});

test('results spread by the bytes each worker holds: 40 results of 20 MB, one at a time, split 20/20', () => {
  // Both workers idle at every submit: before, the first worker won every tie.
  for (let i = 0; i < 40; i++) {
    const [c] = of(
      core.handle({ type: 'submit', client: 'c1', tasks: [task(`r${i}`)] }),
      'compute',
    );
    finish(c.worker, c.key, 20 * MB);
  }
  expect(core.workers.get('a')!.has.size).toBe(20);
  expect(core.workers.get('b')!.has.size).toBe(20);
  expect(memoryFigures(core.workers.get('a')!).managed).toBe(400 * MB);
});

test('memory figures: the last report, carried forward by results stored and freed since', () => {
  core.handle({
    type: 'worker-memory',
    worker: 'a',
    managed: 30 * MB,
    rss: 130 * MB,
    spilled: 5 * MB,
    spilledCount: 2,
    paused: false,
  });
  core.handle({ type: 'submit', client: 'c1', tasks: [task('x', [], { workers: ['a'] })] });
  finish('a', 'x', 10 * MB);
  const a = core.workers.get('a')!;
  expect(memoryFigures(a)).toEqual({
    managed: 40 * MB,
    unmanaged: 100 * MB,
    spilled: 5 * MB,
    spilledCount: 2,
    paused: false,
  });
  core.handle({ type: 'release', client: 'c1', keys: ['x'] });
  expect(memoryFigures(a).managed).toBe(30 * MB);
  // A worker that never reports memory: everything it holds counts as managed.
  expect(memoryFigures(core.workers.get('b')!)).toMatchObject({ managed: 0, paused: false });
});

test('the dashboard rows and /metrics show managed, unmanaged, spilled and paused', async () => {
  core.handle({
    type: 'worker-memory',
    worker: 'a',
    managed: 30 * MB,
    rss: 130 * MB,
    spilled: 5 * MB,
    spilledCount: 2,
    paused: true,
  });
  const dashboard = new Dashboard({ core, workerStats: () => undefined });
  const metrics = new SchedulerMetrics({ core, workerStats: () => undefined });
  try {
    const { workers } = dashboard.snapshot() as { workers: Record<string, unknown>[] };
    expect(workers.find((w) => w.id === 'a')).toMatchObject({
      managed: 30 * MB,
      unmanaged: 100 * MB,
      spilled: 5 * MB,
      spilledCount: 2,
      paused: true,
    });
    const text = await metrics.text();
    expect(text).toContain(
      `mpi_cluster_worker_memory_bytes{worker="name-a",type="managed"} ${30 * MB}`,
    );
    expect(text).toContain(
      `mpi_cluster_worker_memory_bytes{worker="name-a",type="unmanaged"} ${100 * MB}`,
    );
    expect(text).toContain(
      `mpi_cluster_worker_memory_bytes{worker="name-a",type="spilled"} ${5 * MB}`,
    );
    expect(text).toContain('mpi_cluster_worker_paused{worker="name-a"} 1');
    expect(text).toContain('mpi_cluster_worker_paused{worker="name-b"} 0');
  } finally {
    dashboard.close();
    metrics.close();
  }
});
