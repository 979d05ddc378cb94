/**
 * Seceded tasks (issue 22, item 4): a task that waits on futures of its own client holds no slot
 * on its worker, so the core places more work there; the mark goes when the task stops
 * processing there (finished, erred, released, its worker gone).
 */
import { SchedulerCore } from '../../src/scheduler';
import { of, task, worker, type P } from '../helpers/core';

let core: SchedulerCore<P>;

const finish = (w: string, key: string) =>
  core.handle({ type: 'task-finished', worker: w, key, nbytes: 10, duration: 1, inline: null });
const secede = (w: string, key: string) => core.handle({ type: 'task-seceded', worker: w, key });
const rejoin = (w: string, key: string) => core.handle({ type: 'task-rejoined', worker: w, key });
const seceded = (w: string) => [...core.workers.get(w)!.seceded];

beforeEach(() => {
  core = new SchedulerCore<P>({ workerTtl: 1000, clientTtl: 5000 });
  core.handle([
    { type: 'client-join', client: 'c1', now: 0 },
    { type: 'worker-join', worker: worker('a', 1), now: 0 },
  ]);
});
afterEach(() => core.validateState());

test('a seceded task frees its slot: the queued task starts on the same one-thread worker', () => {
  const first = core.handle({ type: 'submit', client: 'c1', tasks: [task('parent'), task('kid')] });
  expect(of(first, 'compute').map((c) => c.key)).toEqual(['parent']);
  const after = secede('a', 'parent');
  expect(of(after, 'compute').map((c) => c.key)).toEqual(['kid']);
  expect(seceded('a')).toEqual(['parent']);
});

test('a rejoined task counts again: no more is placed until a slot frees', () => {
  core.handle({ type: 'submit', client: 'c1', tasks: [task('parent'), task('kid')] });
  secede('a', 'parent');
  rejoin('a', 'parent');
  expect(seceded('a')).toEqual([]);
  // Two processing on one thread now (the rejoined one over its slot): nothing new goes there.
  const more = core.handle({ type: 'submit', client: 'c1', tasks: [task('third')] });
  expect(of(more, 'compute')).toEqual([]);
  expect(of(finish('a', 'kid'), 'compute')).toEqual([]);
  expect(of(finish('a', 'parent'), 'compute').map((c) => c.key)).toEqual(['third']);
});

test('the mark goes when the task finishes, errs, is released or its worker leaves', () => {
  core.handle({ type: 'submit', client: 'c1', tasks: [task('f'), task('e'), task('r')] });
  secede('a', 'f');
  secede('a', 'e');
  secede('a', 'r');
  expect(seceded('a').sort()).toEqual(['e', 'f', 'r']);
  finish('a', 'f');
  // Released, so that its result lost with worker a below is not computed again on b.
  core.handle({ type: 'release', client: 'c1', keys: ['f'] });
  const error = { name: 'Error', message: 'boom' };
  core.handle({ type: 'task-erred', worker: 'a', key: 'e', error, duration: 1 });
  expect(seceded('a')).toEqual(['r']);
  core.handle({ type: 'release', client: 'c1', keys: ['r'] });
  expect(seceded('a')).toEqual([]);
  core.handle({ type: 'submit', client: 'c1', tasks: [task('w')] });
  secede('a', 'w');
  core.handle({ type: 'worker-join', worker: worker('b', 1), now: 0 });
  core.handle({ type: 'worker-leave', worker: 'a', reason: 'gone' });
  const b = core.workers.get('b')!;
  expect(b.processing.has('w')).toBe(true);
  expect(b.seceded.size).toBe(0);
});

test('a report for a task not processing on that worker is ignored', () => {
  core.handle([
    { type: 'worker-join', worker: worker('b', 1), now: 0 },
    { type: 'submit', client: 'c1', tasks: [task('x')] },
  ]);
  const on = core.tasks.get('x')!.processingOn!;
  const other = on === 'a' ? 'b' : 'a';
  secede(other, 'x');
  secede(on, 'nope');
  expect(seceded('a')).toEqual([]);
  expect(seceded('b')).toEqual([]);
  finish(on, 'x');
  secede(on, 'x');
  expect(seceded(on)).toEqual([]);
});

test('a seceded task on an MPI worker leaves its thread free for a gang', () => {
  core = new SchedulerCore<P>({ workerTtl: 1000, clientTtl: 5000 });
  const mpi = (rank: number) => ({ mpi: { rank, size: 2, job: 'j' } });
  core.handle([
    { type: 'client-join', client: 'c1', now: 0 },
    { type: 'worker-join', worker: worker('m0', 1, mpi(0)), now: 0 },
    { type: 'worker-join', worker: worker('m1', 1, mpi(1)), now: 0 },
    { type: 'submit', client: 'c1', tasks: [task('p0'), task('p1')] },
  ]);
  const gang = core.handle({ type: 'submit', client: 'c1', tasks: [task('g', [], { ranks: 2 })] });
  expect(of(gang, 'compute')).toEqual([]);
  secede('m0', 'p0');
  const started = secede('m1', 'p1');
  expect(
    of(started, 'compute')
      .map((c) => [c.key, c.worker])
      .sort(),
  ).toEqual([
    ['g', 'm0'],
    ['g', 'm1'],
  ]);
});
