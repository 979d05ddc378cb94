import { SchedulerCore } from '../../src/scheduler';
import { of, task, worker, type P } from '../helpers/core';

/**
 * KilledWorker counts only the tasks a dead worker was running (Dask's rule), not those queued
 * behind them in its pipeline (up to 64 per thread while tasks are short).
 */
let core: SchedulerCore<P>;

const finish = (w: string, key: string, duration: number) =>
  core.handle({ type: 'task-finished', worker: w, key, nbytes: 10, duration, inline: null });
const suspicion = (keys: string[]) => keys.map((k) => core.tasks.get(k)!.suspicious);

/** A worker of `nthreads` that has run one task of `seconds` (the scheduler's mean duration). */
function warmWorker(id: string, seconds: number, nthreads = 1): void {
  core.handle({ type: 'worker-join', worker: worker(id, nthreads), now: 0 });
  core.handle({ type: 'submit', client: 'c1', tasks: [task(`warm-${id}`, [], { workers: [id] })] });
  finish(id, `warm-${id}`, seconds);
}

beforeEach(() => {
  core = new SchedulerCore<P>({ workerTtl: 60_000, clientTtl: 60_000, allowedFailures: 3 });
  core.handle({ type: 'client-join', client: 'c1', now: 0 });
});
afterEach(() => core.validateState());

const keys = Array.from({ length: 64 }, (_, i) => `t${i}`);

test('a worker dying with 1 task running and 63 queued marks only the running one', () => {
  // 5 ms tasks: the scheduler pipelines (below 10 ms), the worker runs one per thread at a time.
  warmWorker('a', 0.005);
  core.handle({ type: 'submit', client: 'c1', tasks: keys.map((k) => task(k)) });
  expect(core.workers.get('a')!.processing.size).toBe(64);
  core.handle({ type: 'worker-leave', worker: 'a', reason: 'SIGKILL' });
  expect(suspicion(keys)).toEqual([1, ...Array<number>(63).fill(0)]);
  expect(keys.every((k) => core.tasks.get(k)!.state === 'queued')).toBe(true);
});

test('3 deaths while running still err ERR_KILLED_WORKER; the tasks queued behind it never count', () => {
  let erred: string[] = [];
  for (let i = 0; i < 3; i++) {
    warmWorker(`w${i}`, 0.005);
    if (i === 0) core.handle({ type: 'submit', client: 'c1', tasks: keys.map((k) => task(k)) });
    // The first task (lowest in the queue's order) is the one each new worker runs first.
    expect([...core.workers.get(`w${i}`)!.processing][0]).toBe('t0');
    const acts = core.handle({ type: 'worker-leave', worker: `w${i}`, reason: 'segfault' });
    erred = of(acts, 'key-erred').map((e) => e.key);
  }
  expect(erred).toEqual(['t0']);
  expect(core.tasks.get('t0')!.error).toMatchObject({ code: 'ERR_KILLED_WORKER' });
  expect(suspicion(keys.slice(1))).toEqual(Array<number>(63).fill(0));
  expect(core.story('t0').map((t) => t.to)).toContain('erred');
});

test('with 2 threads the first 2 sent are suspected; finished ones leave the count', () => {
  warmWorker('a', 0.005, 2);
  core.handle({ type: 'submit', client: 'c1', tasks: keys.slice(0, 10).map((k) => task(k)) });
  // t1 finished before t0: the threads now run t0 and t2.
  finish('a', 't1', 0.005);
  core.handle({ type: 'worker-leave', worker: 'a', reason: 'killed' });
  expect(suspicion(['t0', 't2', 't3', 't9'])).toEqual([1, 1, 0, 0]);
});

test('tiny tasks travel 64 to a thread: a whole batch is suspected, the next batch not', () => {
  warmWorker('a', 0.0001);
  core.handle({ type: 'submit', client: 'c1', tasks: keys.map((k) => task(k)) });
  core.handle({ type: 'submit', client: 'c1', tasks: [task('t64'), task('t65')] });
  expect(core.workers.get('a')!.processing.size).toBe(66);
  core.handle({ type: 'worker-leave', worker: 'a', reason: 'killed' });
  expect(suspicion(keys).every((n) => n === 1)).toBe(true);
  expect(suspicion(['t64', 't65'])).toEqual([0, 0]);
});

test.each([
  ['still fetching its input has not started: not suspected', false, [0, 1, 0, 0]],
  [
    'whose input arrived may have started before q0: suspected without a thread',
    true,
    [1, 1, 0, 0],
  ],
])('a task %s', (_what, arrived, expected) => {
  warmWorker('a', 0.005);
  warmWorker('b', 0.005);
  core.handle({ type: 'submit', client: 'c1', tasks: [task('x', [], { workers: ['b'] })] });
  finish('b', 'x', 0.005);
  core.handle({
    type: 'submit',
    client: 'c1',
    tasks: [
      task('fetches', ['x'], { workers: ['a'] }),
      ...['q0', 'q1', 'q2'].map((k) => task(k, [], { workers: ['a'] })),
    ],
  });
  expect([...core.workers.get('a')!.processing]).toEqual(['fetches', 'q0', 'q1', 'q2']);
  if (arrived) core.handle({ type: 'add-keys', worker: 'a', keys: ['x'], nbytes: [10] });
  core.handle({ type: 'worker-leave', worker: 'a', reason: 'killed' });
  // a ran q0 meanwhile; q1 and q2 waited behind it.
  expect(suspicion(['fetches', 'q0', 'q1', 'q2'])).toEqual(expected);
});

test('a fetching task sent behind a task that needs no fetch cannot be running before it', () => {
  warmWorker('a', 0.005);
  warmWorker('b', 0.005);
  core.handle({ type: 'submit', client: 'c1', tasks: [task('x', [], { workers: ['b'] })] });
  finish('b', 'x', 0.005);
  core.handle({
    type: 'submit',
    client: 'c1',
    tasks: [task('q0', [], { workers: ['a'] }), task('fetches', ['x'], { workers: ['a'] })],
  });
  core.handle({ type: 'add-keys', worker: 'a', keys: ['x'], nbytes: [10] });
  core.handle({ type: 'worker-leave', worker: 'a', reason: 'killed' });
  expect(suspicion(['q0', 'fetches'])).toEqual([1, 0]);
});

test('on a worker that has spilled, a task with inputs may wait for a read-back: suspected without taking a thread', () => {
  warmWorker('a', 0.005);
  core.handle({ type: 'submit', client: 'c1', tasks: [task('x', [], { workers: ['a'] })] });
  finish('a', 'x', 0.005);
  // a has values on disk: x may be one of them.
  core.handle({ type: 'worker-memory', worker: 'a', spilled: 1e6, spilledCount: 1 });
  core.handle({
    type: 'submit',
    client: 'c1',
    tasks: [
      task('reads', ['x'], { workers: ['a'] }),
      ...['q0', 'q1'].map((k) => task(k, [], { workers: ['a'] })),
    ],
  });
  core.handle({ type: 'worker-leave', worker: 'a', reason: 'killed' });
  expect(suspicion(['reads', 'q0', 'q1'])).toEqual([1, 1, 0]);
});

test('tasks whose inputs arrive out of order start in the order they arrived', () => {
  for (const id of ['a', 'b', 'c']) warmWorker(id, 0.005);
  core.handle({
    type: 'submit',
    client: 'c1',
    tasks: [task('x1', [], { workers: ['b'] }), task('x2', [], { workers: ['c'] })],
  });
  finish('b', 'x1', 0.005);
  finish('c', 'x2', 0.005);
  core.handle({
    type: 'submit',
    client: 'c1',
    tasks: [task('L1', ['x1'], { workers: ['a'] }), task('L2', ['x2'], { workers: ['a'] })],
  });
  // c answered first: L2 took the thread, L1 queued behind it once x1 came.
  core.handle({ type: 'add-keys', worker: 'a', keys: ['x2'], nbytes: [10] });
  core.handle({ type: 'add-keys', worker: 'a', keys: ['x1'], nbytes: [10] });
  core.handle({ type: 'worker-leave', worker: 'a', reason: 'killed' });
  expect(suspicion(['L1', 'L2'])).toEqual([0, 1]);
});
