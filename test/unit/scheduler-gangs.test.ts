import { SchedulerCore, type SchedulerAction } from '../../src/scheduler';
import type { WorkerInfoWire } from '../../src/protocol';
import { of, task, worker, type P } from '../helpers/core';

/** Gang tasks (issue 21): one task run at once on N distinct MPI worker ranks of one job. */
let core: SchedulerCore<P>;

/** A worker that is MPI rank `rank` of job `job` (its world: the scheduler, a client, workers). */
const mpi = (id: string, rank: number, job = 'j1', extra: Partial<WorkerInfoWire> = {}) =>
  worker(id, 1, { mpi: { rank, size: 10, job }, ...extra });

const join = (...infos: WorkerInfoWire[]) =>
  core.handle(infos.map((w) => ({ type: 'worker-join' as const, worker: w, now: 0 })));
const submit = (...tasks: ReturnType<typeof task>[]) =>
  core.handle({ type: 'submit', client: 'c1', tasks });
const gang = (key: string, ranks: number, extra: Parameters<typeof task>[2] = {}) =>
  task(key, [], { ranks, ...extra });
const finish = (w: string, key: string, duration = 1) =>
  core.handle({ type: 'task-finished', worker: w, key, nbytes: 10, duration, inline: null });
const err = (w: string, key: string, message = 'boom', code?: string) =>
  core.handle({
    type: 'task-erred',
    worker: w,
    key,
    error: { name: 'Error', message, ...(code ? { code } : {}) },
    duration: 1,
  });
const leave = (w: string) => core.handle({ type: 'worker-leave', worker: w, reason: 'died' });
const computes = (acts: SchedulerAction<P>[], key: string) =>
  of(acts, 'compute').filter((c) => c.key === key);
const state = (key: string) => core.tasks.get(key)?.state;
const processing = (w: string) => [...core.workers.get(w)!.processing];

beforeEach(() => {
  core = new SchedulerCore<P>({ workerTtl: 60_000, clientTtl: 60_000, allowedFailures: 3 });
  core.handle({ type: 'client-join', client: 'c1', now: 0 });
});
afterEach(() => core.validateState());

describe('placement', () => {
  test('a gang runs on N distinct MPI workers ordered by rank, each told the ranks and its place', () => {
    join(mpi('d', 4), mpi('b', 2), mpi('c', 3), mpi('a', 1));
    const acts = submit(gang('g', 4));
    const cs = computes(acts, 'g');
    expect(cs.map((c) => c.worker)).toEqual(['a', 'b', 'c', 'd']);
    cs.forEach((c, i) => {
      expect(c.gang).toEqual({ ranks: [1, 2, 3, 4], index: i });
      expect(c.payload).toBe('fn-g');
      expect(c.deps).toEqual([]);
    });
    const ts = core.tasks.get('g')!;
    expect(ts.state).toBe('processing');
    expect(ts.processingOn).toBe('a');
    expect(ts.gang).toEqual(['a', 'b', 'c', 'd']);
    for (const w of ['a', 'b', 'c', 'd']) expect(processing(w)).toEqual(['g']);
    core.validateState();
  });

  test('members holding the inputs are preferred, then the least loaded; deps go to every member', () => {
    join(mpi('a', 1), mpi('b', 2), mpi('c', 3), mpi('d', 4));
    submit(task('x', [], { workers: ['d'] }));
    finish('d', 'x');
    const acts = submit(task('g', ['x'], { ranks: 2 }));
    const cs = computes(acts, 'g');
    expect(cs.map((c) => c.worker)).toEqual(['a', 'd']);
    for (const c of cs) expect(c.deps).toEqual([{ key: 'x', who: ['tcp://h:d'] }]);
    expect(cs.map((c) => c.gang)).toEqual([
      { ranks: [1, 4], index: 0 },
      { ranks: [1, 4], index: 1 },
    ]);
  });

  test('workers without mpi never run a gang; ordinary tasks still run everywhere', () => {
    join(worker('p1'), worker('p2'), mpi('m1', 1), mpi('m2', 2));
    const acts = submit(gang('g', 2), task('t1'), task('t2'));
    expect(computes(acts, 'g').map((c) => c.worker)).toEqual(['m1', 'm2']);
    expect(
      of(acts, 'compute')
        .filter((c) => c.key !== 'g')
        .map((c) => c.worker)
        .sort(),
    ).toEqual(['p1', 'p2']);
  });

  test('two jobs are never mixed in one gang', () => {
    join(
      mpi('a1', 1, 'A'),
      mpi('a2', 2, 'A'),
      mpi('b1', 1, 'B'),
      mpi('b2', 2, 'B'),
      mpi('b3', 3, 'B'),
    );
    const acts = submit(gang('g', 3));
    expect(computes(acts, 'g').map((c) => c.worker)).toEqual(['b1', 'b2', 'b3']);
    // Job A's 2 free ranks and job B's busy ones do not make a gang of 2 + 1 either.
    expect(of(submit(gang('h', 3)), 'compute')).toEqual([]);
    expect(state('h')).toBe('queued');
    const fin = finish('b1', 'g');
    expect(computes(fin, 'h').map((c) => c.worker)).toEqual(['b1', 'b2', 'b3']);
  });

  test('all or nothing: with 3 MPI workers free a gang of 4 waits, holding no slot', () => {
    join(mpi('a', 1), mpi('b', 2), mpi('c', 3), mpi('d', 4));
    submit(task('t', [], { workers: ['d'] }));
    const acts = submit(gang('g', 4));
    expect(of(acts, 'compute')).toEqual([]);
    expect(state('g')).toBe('queued');
    expect(core.tasks.get('g')!.gang).toBeUndefined();
    for (const w of ['a', 'b', 'c']) expect(processing(w)).toEqual([]);
    core.validateState();
    const fin = finish('d', 't');
    expect(computes(fin, 'g').map((c) => c.worker)).toEqual(['a', 'b', 'c', 'd']);
  });

  test('two gangs run at once on disjoint workers', () => {
    join(...Array.from({ length: 8 }, (_, i) => mpi(`w${i}`, i + 1)));
    const acts = submit(gang('g3', 3), gang('g4', 4));
    const m3 = computes(acts, 'g3').map((c) => c.worker);
    const m4 = computes(acts, 'g4').map((c) => c.worker);
    expect(m3).toHaveLength(3);
    expect(m4).toHaveLength(4);
    expect(new Set([...m3, ...m4]).size).toBe(7);
    expect(state('g3')).toBe('processing');
    expect(state('g4')).toBe('processing');
  });

  test('a worker in a running gang gets no second gang, even with threads free', () => {
    join(worker('a', 2, { mpi: { rank: 1, size: 3, job: 'j' } }));
    join(worker('b', 2, { mpi: { rank: 2, size: 3, job: 'j' } }));
    expect(computes(submit(gang('g1', 2)), 'g1')).toHaveLength(2);
    expect(of(submit(gang('g2', 2)), 'compute')).toEqual([]);
    expect(state('g2')).toBe('queued');
    core.validateState();
    const fin = finish('a', 'g1');
    expect(computes(fin, 'g2').map((c) => c.worker)).toEqual(['a', 'b']);
  });

  test('a retiring or paused worker takes no gang', () => {
    join(mpi('a', 1), mpi('b', 2), worker('c', 2, { mpi: { rank: 3, size: 10, job: 'j1' } }));
    core.handle({ type: 'worker-memory', worker: 'a', paused: true });
    // Busy, c stays while it retires: a thread free, but it is given nothing new.
    submit(task('t', [], { workers: ['c'] }));
    core.handle({ type: 'retire-workers', workers: ['c'] });
    expect(of(submit(gang('g', 2)), 'compute')).toEqual([]);
    expect(state('g')).toBe('queued');
    const acts = core.handle({ type: 'worker-memory', worker: 'a', paused: false });
    expect(computes(acts, 'g').map((c) => c.worker)).toEqual(['a', 'b']);
  });
});

describe('queueing, reservation and backfill', () => {
  test('a gang of all 4 MPI workers is not starved by 100 ordinary tasks; others backfill', () => {
    join(mpi('m0', 0), mpi('m1', 1), mpi('m2', 2), mpi('m3', 3), worker('p0'), worker('p1'));
    const ordinary = Array.from({ length: 100 }, (_, i) => task(`t${i}`));
    submit(...ordinary);
    expect(core.counts().processing).toBe(6);
    expect(of(submit(gang('g', 4)), 'compute')).toEqual([]);
    expect(state('g')).toBe('queued');
    const runningOn = (w: string) => processing(w).filter((k) => k !== 'g');
    // Each worker finishes its task in turn: MPI workers, reserved for the gang, take no new one.
    for (const w of ['m0', 'p0', 'm1', 'p1', 'm2']) {
      const acts = finish(w, runningOn(w)[0]);
      expect(of(acts, 'compute').map((c) => c.worker)).toEqual(w.startsWith('p') ? [w] : []);
      core.validateState();
    }
    expect(processing('m0')).toEqual([]);
    const last = finish('m3', runningOn('m3')[0]);
    expect(computes(last, 'g').map((c) => c.worker)).toEqual(['m0', 'm1', 'm2', 'm3']);
    expect(of(last, 'compute').filter((c) => c.key !== 'g')).toEqual([]);
    // Before the remaining ordinary tasks: 100 - 6 - 2 run on p0, p1 are still queued.
    expect(core.counts().queued).toBe(92);
    const done = finish('m0', 'g');
    expect(of(done, 'compute').map((c) => c.worker)).toEqual(['m0', 'm1', 'm2', 'm3']);
  });

  test('a gang of 2 of 4 MPI workers holds the 2 that free soonest; the others keep working', () => {
    join(mpi('m0', 0), mpi('m1', 1), mpi('m2', 2), mpi('m3', 3));
    submit(...Array.from({ length: 20 }, (_, i) => task(`t${i}`)));
    submit(gang('g', 2));
    // All four run one task: ties go by rank, so m0 and m1 are held.
    expect(of(finish('m2', processing('m2')[0]), 'compute').map((c) => c.worker)).toEqual(['m2']);
    expect(of(finish('m0', processing('m0')[0]), 'compute')).toEqual([]);
    expect(of(finish('m3', processing('m3')[0]), 'compute').map((c) => c.worker)).toEqual(['m3']);
    const acts = finish('m1', processing('m1')[0]);
    expect(computes(acts, 'g').map((c) => c.worker)).toEqual(['m0', 'm1']);
  });

  test('the highest-priority waiting gang goes first, then submission order', () => {
    join(mpi('a', 1), mpi('b', 2));
    submit(task('t', [], { workers: ['a'] }));
    submit(gang('low', 2), gang('high', 2, { priority: 5 }), gang('high2', 2, { priority: 5 }));
    expect(['low', 'high', 'high2'].map(state)).toEqual(['queued', 'queued', 'queued']);
    expect(computes(finish('a', 't'), 'high')).toHaveLength(2);
    expect(computes(finish('a', 'high'), 'high2')).toHaveLength(2);
    expect(computes(finish('a', 'high2'), 'low')).toHaveLength(2);
  });

  test('a lower gang that fits on free workers not held for the head runs meanwhile', () => {
    join(mpi('a1', 1, 'A'), mpi('a2', 2, 'A'), mpi('a3', 3, 'A'), mpi('a4', 4, 'A'));
    join(mpi('b1', 1, 'B'), mpi('b2', 2, 'B'));
    submit(task('t1', [], { workers: ['a1'] }), task('t2', [], { workers: ['a2'] }));
    // The head needs job A's four ranks; job B's two are free for the lower gang.
    const acts = submit(gang('head', 4, { priority: 5 }), gang('small', 2));
    expect(state('head')).toBe('queued');
    expect(computes(acts, 'small').map((c) => c.worker)).toEqual(['b1', 'b2']);
    // Job A's free ranks are held for the head: an ordinary task goes nowhere there.
    expect(of(submit(task('o')), 'compute')).toEqual([]);
    finish('a1', 't1');
    expect(computes(finish('a2', 't2'), 'head')).toHaveLength(4);
  });

  test('workers held for a gang that is cancelled take ordinary tasks again at once', () => {
    join(mpi('a', 1), mpi('b', 2));
    submit(...Array.from({ length: 10 }, (_, i) => task(`t${i}`)));
    submit(gang('g', 2));
    expect(of(finish('a', processing('a')[0]), 'compute')).toEqual([]);
    const acts = core.handle({ type: 'cancel', client: 'c1', keys: ['g'] });
    expect(of(acts, 'compute').map((c) => c.worker)).toEqual(['a']);
    expect(of(finish('b', processing('b')[0]), 'compute').map((c) => c.worker)).toEqual(['b']);
  });
});

describe('impossible gangs err at submit', () => {
  test('ERR_GANG_NO_MPI with no worker connected at all', () => {
    const [e] = of(submit(gang('g', 2)), 'key-erred');
    expect(e.error.code).toBe('ERR_GANG_NO_MPI');
    expect(e.error.message).toMatch(/none connected/);
  });

  test('ERR_GANG_NO_MPI when no worker is an MPI rank', () => {
    join(worker('a'), worker('b'));
    const [e] = of(submit(gang('g', 2)), 'key-erred');
    expect(e.error.code).toBe('ERR_GANG_NO_MPI');
    expect(e.error.message).toMatch(/ranks: 2/);
    expect(e.error.message).toMatch(/initialize\(\)/);
    expect(e.error.message).toMatch(/mpi-init/);
    expect(e.error.message).toMatch(/LocalCluster/);
    expect(state('g')).toBe('erred');
  });

  test('ERR_GANG_TOO_LARGE names the ranks asked and the ranks the largest job has', () => {
    join(mpi('a', 1), mpi('b', 2), mpi('c', 3), mpi('x', 1, 'other'));
    const [e] = of(submit(gang('g', 4)), 'key-erred');
    expect(e.error.code).toBe('ERR_GANG_TOO_LARGE');
    expect(e.error.message).toMatch(/ranks: 4/);
    expect(e.error.message).toMatch(/3 worker ranks/);
    expect(e.error.message).toMatch(/10 processes/);
  });

  test('restrictions count: only the workers a gang may use make it fit', () => {
    join(mpi('a', 1), mpi('b', 2), mpi('c', 3));
    const [e] = of(submit(gang('g', 3, { workers: ['a', 'b'] })), 'key-erred');
    expect(e.error.code).toBe('ERR_GANG_TOO_LARGE');
    expect(e.error.message).toMatch(/2 worker ranks/);
    const [r] = of(submit(gang('r', 2, { resources: { GPU: 1 } })), 'key-erred');
    expect(r.error.code).toBe('ERR_GANG_TOO_LARGE');
  });

  test('busy members are no error: the gang waits', () => {
    join(mpi('a', 1), mpi('b', 2));
    submit(task('t', [], { workers: ['a'] }));
    expect(of(submit(gang('g', 2)), 'key-erred')).toEqual([]);
    expect(state('g')).toBe('queued');
  });

  test('a waiting gang errs when a worker leaves and it can no longer ever fit', () => {
    join(mpi('a', 1), mpi('b', 2), mpi('c', 3), mpi('d', 4));
    submit(task('t', [], { workers: ['d'] }));
    submit(gang('g', 4));
    expect(state('g')).toBe('queued');
    const [e] = of(leave('c'), 'key-erred').filter((x) => x.key === 'g');
    expect(e.error.code).toBe('ERR_GANG_TOO_LARGE');
    expect(state('g')).toBe('erred');
  });
});

describe('finishing, errors and loss', () => {
  const start = (n: number, ranks: number, extra: Parameters<typeof task>[2] = {}) => {
    join(...Array.from({ length: n }, (_, i) => mpi(`w${i}`, i)));
    return computes(submit(gang('g', ranks, extra)), 'g').map((c) => c.worker);
  };

  test("the leader's result frees every member; only the leader holds it", () => {
    const members = start(3, 3);
    expect(members).toEqual(['w0', 'w1', 'w2']);
    const acts = finish('w0', 'g');
    expect(of(acts, 'key-done')).toEqual([
      expect.objectContaining({ key: 'g', who: ['tcp://h:w0'] }),
    ]);
    expect(of(acts, 'free-keys')).toEqual([]);
    expect(of(acts, 'cancel-compute')).toEqual([]);
    for (const w of members) expect(processing(w)).toEqual([]);
    expect([...core.tasks.get('g')!.who]).toEqual(['w0']);
  });

  test("a non-leader's task-finished is ignored", () => {
    start(3, 3);
    expect(finish('w1', 'g')).toEqual([]);
    expect(state('g')).toBe('processing');
    expect(processing('w1')).toEqual(['g']);
  });

  test("a non-leader's error errs the task, cancel-computes the others, frees all", () => {
    start(3, 3);
    const acts = err('w1', 'g', 'gang rank 1 failed: boom');
    const [e] = of(acts, 'key-erred');
    expect(e.error.message).toBe('gang rank 1 failed: boom');
    const cancelled = of(acts, 'cancel-compute').map((c) => c.worker);
    expect(cancelled.sort()).toEqual(['w0', 'w2']);
    for (const w of ['w0', 'w1', 'w2']) expect(processing(w)).toEqual([]);
    expect(state('g')).toBe('erred');
  });

  test("another member's ERR_GANG_ABANDONED is no cause: the task waits for the real one", () => {
    start(3, 3);
    expect(err('w2', 'g', 'abandoned', 'ERR_GANG_ABANDONED')).toEqual([]);
    expect(state('g')).toBe('processing');
    expect(of(err('w1', 'g', 'real'), 'key-erred')[0].error.message).toBe('real');
  });

  test('retries place the whole gang again', () => {
    start(4, 3, { retries: 1 });
    const again = err('w2', 'g');
    expect(of(again, 'key-erred')).toEqual([]);
    const cs = computes(again, 'g');
    expect(cs).toHaveLength(3);
    expect(cs.map((c) => c.gang!.index)).toEqual([0, 1, 2]);
    expect(state('g')).toBe('processing');
    core.validateState();
    const leader = core.tasks.get('g')!.processingOn!;
    expect(of(err(leader, 'g'), 'key-erred')).toHaveLength(1);
  });

  test('a member leaving mid-run takes the gang back from the others and places it again', () => {
    start(5, 4);
    const acts = leave('w2');
    expect(
      of(acts, 'cancel-compute')
        .map((c) => c.worker)
        .sort(),
    ).toEqual(['w0', 'w1', 'w3']);
    expect(computes(acts, 'g').map((c) => c.worker)).toEqual(['w0', 'w1', 'w3', 'w4']);
    expect(core.tasks.get('g')!.suspicious).toBe(1);
  });

  test('a gang whose members keep dying ends in ERR_KILLED_WORKER', () => {
    start(6, 2);
    let last: SchedulerAction<P>[] = [];
    for (let i = 0; i < 3; i++) last = leave(core.tasks.get('g')!.gang![1]);
    const [e] = of(last, 'key-erred');
    expect(e.error.code).toBe('ERR_KILLED_WORKER');
    for (const w of core.workers.keys()) expect(processing(w)).toEqual([]);
  });

  test('a member leaving so that the gang can never fit again errs it', () => {
    start(3, 3);
    const [e] = of(leave('w1'), 'key-erred');
    expect(e.error.code).toBe('ERR_GANG_TOO_LARGE');
    expect(processing('w0')).toEqual([]);
  });

  test('cancel by the client frees every member, with cancel-compute to each', () => {
    const members = start(4, 4);
    const acts = core.handle({ type: 'cancel', client: 'c1', keys: ['g'] });
    expect(
      of(acts, 'cancel-compute')
        .map((c) => c.worker)
        .sort(),
    ).toEqual(members);
    for (const w of members) expect(processing(w)).toEqual([]);
    expect(core.tasks.has('g')).toBe(false);
  });

  test('missing-data at a member takes the whole gang back and places it again', () => {
    join(mpi('a', 1), mpi('b', 2));
    submit(task('x', [], { workers: ['b'] }));
    finish('b', 'x');
    submit(task('g', ['x'], { ranks: 2 }));
    const acts = core.handle({
      type: 'missing-data',
      worker: 'a',
      key: 'g',
      dep: 'x',
      from: 'tcp://h:b',
    });
    expect(
      of(acts, 'cancel-compute')
        .map((c) => c.worker)
        .sort(),
    ).toEqual(['a', 'b']);
    // x is lost: it runs again first, and the gang waits for it.
    expect(state('g')).toBe('waiting');
    for (const w of ['a', 'b']) expect(processing(w)).not.toContain('g');
  });

  test('resources are reserved on every member and given back at the end', () => {
    const gpu = { resources: { GPU: 1 } };
    join(mpi('a', 1, 'j1', gpu), mpi('b', 2, 'j1', gpu), mpi('c', 3, 'j1', gpu));
    submit(gang('g', 2, { resources: { GPU: 1 } }));
    expect(core.workers.get('a')!.used).toEqual({ GPU: 1 });
    expect(core.workers.get('b')!.used).toEqual({ GPU: 1 });
    // The third GPU is free for an ordinary GPU task; a second gang finds no 2 GPUs.
    expect(computes(submit(task('o', [], gpu)), 'o').map((c) => c.worker)).toEqual(['c']);
    finish('a', 'g');
    expect(core.workers.get('a')!.used).toEqual({ GPU: 0 });
    expect(core.workers.get('b')!.used).toEqual({ GPU: 0 });
  });
});

test('validateState catches a member that lost its slot', () => {
  join(mpi('a', 1), mpi('b', 2));
  submit(gang('g', 2));
  core.workers.get('b')!.processing.delete('g');
  expect(() => core.validateState()).toThrow(/b does not list processing g/);
  core.workers.get('b')!.processing.add('g');
});
