import { SchedulerCore } from '../../src/scheduler';
import { of, task, worker, type P } from '../helpers/core';

let core: SchedulerCore<P>;

const finish = (w: string, key: string) =>
  core.handle({ type: 'task-finished', worker: w, key, nbytes: 10, duration: 1, inline: null });

const threadExit = (w: string, key: string) =>
  core.handle({
    type: 'task-erred',
    worker: w,
    key,
    duration: 0,
    error: { name: 'ThreadExited', code: 'ERR_THREAD_EXITED', message: 'exit code 3' },
  });

beforeEach(() => {
  core = new SchedulerCore<P>();
  core.handle([
    { type: 'client-join', client: 'c1', now: 0 },
    { type: 'client-join', client: 'c2', now: 0 },
    { type: 'worker-join', worker: worker('a'), now: 0 },
  ]);
});
afterEach(() => core.validateState());

describe('cancel is per client', () => {
  test('a key two clients want keeps running for the one that did not cancel', () => {
    core.handle({ type: 'submit', client: 'c1', tasks: [task('x')] });
    core.handle({ type: 'submit', client: 'c2', tasks: [task('x')] });
    const acts = core.handle({ type: 'cancel', client: 'c1', keys: ['x'] });
    expect(of(acts, 'key-cancelled')).toEqual([{ type: 'key-cancelled', client: 'c1', key: 'x' }]);
    expect(of(acts, 'cancel-compute')).toEqual([]);
    expect(core.tasks.get('x')!.state).toBe('processing');
    expect(of(finish('a', 'x'), 'key-done').map((d) => d.client)).toEqual(['c2']);
  });

  test('a dependent another client wants keeps the cancelled task alive as its input', () => {
    core.handle({ type: 'submit', client: 'c1', tasks: [task('x'), task('mine', ['x'])] });
    core.handle({ type: 'submit', client: 'c2', tasks: [task('theirs', ['x'])] });
    const acts = core.handle({ type: 'cancel', client: 'c1', keys: ['x'] });
    expect(
      of(acts, 'key-cancelled')
        .map((a) => a.key)
        .sort(),
    ).toEqual(['mine', 'x']);
    expect(core.tasks.has('mine')).toBe(false);
    expect(core.tasks.get('x')!.state).toBe('processing');
    finish('a', 'x');
    expect(of(finish('a', 'theirs'), 'key-done').map((d) => [d.client, d.key])).toEqual([
      ['c2', 'theirs'],
    ]);
  });

  test('a key only the cancelling client wants is stopped on its worker', () => {
    core.handle({ type: 'submit', client: 'c1', tasks: [task('x')] });
    const acts = core.handle({ type: 'cancel', client: 'c1', keys: ['x'] });
    expect(of(acts, 'cancel-compute')).toEqual([
      { type: 'cancel-compute', worker: 'a', keys: ['x'] },
    ]);
    expect(core.tasks.has('x')).toBe(false);
  });
});

describe('keys', () => {
  test('an explicit key resubmitted with another fingerprint errs ERR_KEY_CONFLICT for that client only', () => {
    core.handle({ type: 'submit', client: 'c1', tasks: [task('k', [], { fingerprint: 'f1' })] });
    const same = core.handle({
      type: 'submit',
      client: 'c2',
      tasks: [task('k', [], { fingerprint: 'f1' })],
    });
    expect(of(same, 'key-erred')).toEqual([]);
    const other = core.handle({
      type: 'submit',
      client: 'c2',
      tasks: [task('k', [], { fingerprint: 'f2' })],
    });
    expect(of(other, 'key-erred')).toEqual([
      expect.objectContaining({
        client: 'c2',
        key: 'k',
        error: expect.objectContaining({ code: 'ERR_KEY_CONFLICT' }),
      }),
    ]);
    expect([...core.tasks.get('k')!.wantedBy].sort()).toEqual(['c1', 'c2']);
    expect(
      of(finish('a', 'k'), 'key-done')
        .map((d) => d.client)
        .sort(),
    ).toEqual(['c1', 'c2']);
  });

  test('a key resubmitted with other dependencies is a conflict', () => {
    core.handle({
      type: 'submit',
      client: 'c1',
      tasks: [task('d1'), task('d2'), task('k', ['d1'])],
    });
    const acts = core.handle({ type: 'submit', client: 'c1', tasks: [task('k', ['d2'])] });
    expect(of(acts, 'key-erred')[0].error.code).toBe('ERR_KEY_CONFLICT');
    expect([...core.tasks.get('k')!.deps]).toEqual(['d1']);
  });

  test('scatter onto a processing key is refused and its copies freed; the task goes on', () => {
    core.handle({ type: 'worker-join', worker: worker('b'), now: 0 });
    core.handle({ type: 'submit', client: 'c1', tasks: [task('k')] });
    const on = core.tasks.get('k')!.processingOn!;
    const other = on === 'a' ? 'b' : 'a';
    const acts = core.handle({
      type: 'scattered',
      client: 'c2',
      keys: ['k'],
      workers: [other],
      nbytes: [5],
    });
    expect(of(acts, 'key-erred')).toEqual([
      expect.objectContaining({
        client: 'c2',
        key: 'k',
        error: expect.objectContaining({ code: 'ERR_KEY_CONFLICT' }),
      }),
    ]);
    expect(of(acts, 'free-keys')).toEqual([{ type: 'free-keys', worker: other, keys: ['k'] }]);
    expect(core.tasks.get('k')!.state).toBe('processing');
    expect(of(finish(on, 'k'), 'key-done').map((d) => d.client)).toEqual(['c1']);
  });
});

describe('a task that kills its thread', () => {
  test('runs again, and errs ERR_KILLED_WORKER after allowedFailures thread deaths', () => {
    core.handle({ type: 'submit', client: 'c1', tasks: [task('x', [], { retries: 5 })] });
    expect(of(threadExit('a', 'x'), 'compute').map((c) => c.key)).toEqual(['x']);
    expect(of(threadExit('a', 'x'), 'compute').map((c) => c.key)).toEqual(['x']);
    const acts = threadExit('a', 'x');
    expect(of(acts, 'compute')).toEqual([]);
    expect(of(acts, 'key-erred')[0].error).toMatchObject({
      code: 'ERR_KILLED_WORKER',
      message: expect.stringContaining('killed the thread running it 3 times'),
    });
    // Its retries were not spent on thread deaths.
    expect(core.tasks.get('x')!.retries).toBe(5);
  });
});

describe('retiring a worker', () => {
  test('its data is copied to a worker that stays before it is removed, and it gets no new tasks', () => {
    core.handle({ type: 'worker-join', worker: worker('b'), now: 0 });
    core.handle({ type: 'submit', client: 'c1', tasks: [task('x'), task('y')] });
    const onA = core.tasks.get('x')!.processingOn === 'a' ? 'x' : 'y';
    const onB = onA === 'x' ? 'y' : 'x';
    let acts = core.handle({ type: 'retire-workers', workers: ['a'] });
    expect(of(acts, 'worker-removed')).toEqual([]); // still running onA
    acts = finish('a', onA);
    expect(of(acts, 'acquire-replicas')).toEqual([
      { type: 'acquire-replicas', worker: 'b', deps: [{ key: onA, who: ['tcp://h:a'] }] },
    ]);
    finish('b', onB);
    const next = core.handle({ type: 'submit', client: 'c1', tasks: [task('z')] });
    expect(of(next, 'compute').map((c) => c.worker)).toEqual(['b']); // never the retiring a
    acts = core.handle({ type: 'add-keys', worker: 'b', keys: [onA], nbytes: [10] });
    expect(of(acts, 'worker-removed')).toEqual([
      { type: 'worker-removed', worker: 'a', reason: 'retired' },
    ]);
    expect([...core.tasks.get(onA)!.who]).toEqual(['b']);
  });
});

describe('transitions', () => {
  test('every story names the numbered stimulus and its peer', () => {
    core.handle({ type: 'submit', client: 'c1', tasks: [task('x')] });
    finish('a', 'x');
    const causes = core.story('x').map((t) => `${t.from}->${t.to} ${t.cause}`);
    expect(causes).toEqual([
      expect.stringMatching(/^new->released submit#\d+ from c1$/),
      expect.stringMatching(/^released->waiting submit#\d+ from c1$/),
      expect.stringMatching(/^waiting->processing submit#\d+ from c1$/),
      expect.stringMatching(/^processing->memory task-finished#\d+ from a$/),
    ]);
  });

  test('an illegal transition throws ERR_INTERNAL with the task story', () => {
    core.handle({ type: 'submit', client: 'c1', tasks: [task('x')] });
    finish('a', 'x');
    const ts = core.tasks.get('x')!;
    // Reach in as a bug would: memory -> processing is not in the table.
    const transition = (core as unknown as { transition(t: unknown, to: string): void }).transition;
    expect(() => transition.call(core, ts, 'processing')).toThrow(
      expect.objectContaining({
        code: 'ERR_INTERNAL',
        message: expect.stringMatching(/memory -> processing.*processing->memory \(task-finished/),
      }),
    );
  });
});
