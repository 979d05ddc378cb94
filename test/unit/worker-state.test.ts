import { CANCEL_GRACE_MS, FETCH_BATCH, WorkerState } from '../../src/worker/state';
import type { WorkerAction, WorkerEvent } from '../../src/worker/state-types';

type Event = WorkerEvent<string, string>;
type Action = WorkerAction<string, string>;
/** An event without its time: the test clock fills it in. */
type NoNow<E> = E extends unknown ? Omit<E, 'now'> : never;
type Input = NoNow<Event>;

const A = 'tcp://a:1';
const B = 'tcp://b:1';

/** A state machine whose every step is followed by validateState(). */
function machine() {
  const sm = new WorkerState<string, string>();
  let now = 1000;
  const step = (...events: Input[]): Action[] => {
    const out = sm.handle(events.map((e) => ({ ...e, now: ++now }) as Event));
    sm.validateState();
    return out;
  };
  return { sm, step };
}

const compute = (key: string, deps: [string, string[]][] = [], stimulusId?: string): Input => ({
  type: 'compute',
  key,
  payload: `fn:${key}`,
  deps: deps.map(([k, who]) => ({ key: k, who })),
  stimulusId,
});
const got = (key: string) => ({ key, value: `value:${key}`, nbytes: 8 });
const runOf = (out: Action[], key: string): number => {
  const a = out.find((x) => x.type === 'run' && x.key === key);
  if (!a || a.type !== 'run') throw new Error(`no run of ${key} in ${JSON.stringify(out)}`);
  return a.run;
};
const result = (key: string, run: number): Input => ({
  type: 'task-result',
  key,
  run,
  value: `value:${key}`,
  nbytes: 8,
  duration: 0.1,
});

test('a compute whose inputs are here runs at once, with them', () => {
  const { step } = machine();
  step({ type: 'put-data', key: 'x', value: 'X', nbytes: 1 });
  const out = step(compute('y', [['x', [A]]]));
  expect(out).toEqual([
    { type: 'run', key: 'y', run: expect.any(Number), payload: 'fn:y', deps: [['x', 'X']] },
  ]);
  expect(step(result('y', runOf(out, 'y')))).toEqual([
    { type: 'task-finished', key: 'y', nbytes: 8, duration: 0.1 },
  ]);
});

test('inputs are fetched in one request per holder, a key in flight is never asked twice', () => {
  const { sm, step } = machine();
  const out = step(
    compute('y1', [
      ['x1', [A]],
      ['x2', [A]],
    ]),
    compute('y2', [
      ['x3', [B]],
      ['x1', [A]],
    ]),
  );
  expect(out).toEqual([
    { type: 'fetch', holder: A, keys: ['x1', 'x2'] },
    { type: 'fetch', holder: B, keys: ['x3'] },
  ]);
  expect(step(compute('y3', [['x1', [A]]]))).toEqual([]);
  const done = step({
    type: 'fetch-done',
    holder: A,
    keys: ['x1', 'x2'],
    got: [got('x1'), got('x2')],
  });
  expect(done[0]).toEqual({ type: 'add-keys', keys: ['x1', 'x2'], nbytes: [8, 8] });
  expect(done.filter((a) => a.type === 'run').map((a) => a.key)).toEqual(['y1', 'y3']);
  expect(sm.tasks.get('y2')?.state).toBe('waiting');
});

test(`a task with many inputs on one holder asks for ${FETCH_BATCH} keys at a time`, () => {
  const { step } = machine();
  const deps = Array.from({ length: 2500 }, (_, i): [string, string[]] => [`x${i}`, [A]]);
  const out = step(compute('y', deps));
  expect(out.map((a) => (a.type === 'fetch' ? a.keys.length : a.type))).toEqual([1000, 1000, 500]);
});

test('a key its first holder did not send is asked of the next; when none has it, missing-data names each', () => {
  const { sm, step } = machine();
  expect(step(compute('y', [['x', [A, B]]]))).toEqual([{ type: 'fetch', holder: A, keys: ['x'] }]);
  expect(step({ type: 'fetch-done', holder: A, keys: ['x'], got: [] })).toEqual([
    { type: 'fetch', holder: B, keys: ['x'] },
  ]);
  expect(step({ type: 'fetch-failed', holder: B, keys: ['x'], reason: 'timeout' })).toEqual([
    { type: 'missing-data', key: 'y', dep: 'x', from: A },
    { type: 'missing-data', key: 'y', dep: 'x', from: B },
  ]);
  expect(sm.tasks.size).toBe(0);
  expect(sm.deps.size).toBe(0);
});

test('race: cancel-compute then compute of a key while its inputs are fetched: the new compute runs and is reported', () => {
  const { sm, step } = machine();
  expect(step(compute('y', [['x', [A]]]))).toEqual([{ type: 'fetch', holder: A, keys: ['x'] }]);
  expect(step({ type: 'cancel-compute', keys: ['y'] })).toEqual([]);
  // The input is still in flight: the second compute waits for that same transfer.
  expect(step(compute('y', [['x', [A]]]))).toEqual([]);
  const out = step({ type: 'fetch-done', holder: A, keys: ['x'], got: [got('x')] });
  expect(out).toEqual([
    { type: 'add-keys', keys: ['x'], nbytes: [8] },
    { type: 'run', key: 'y', run: expect.any(Number), payload: 'fn:y', deps: [['x', 'value:x']] },
  ]);
  expect(step(result('y', runOf(out, 'y')))).toEqual([
    { type: 'task-finished', key: 'y', nbytes: 8, duration: 0.1 },
  ]);
  expect(sm.data.get('y')?.value).toBe('value:y');
});

test('race: a failed shared fetch reports missing-data for every waiting task and drops none silently', () => {
  const { sm, step } = machine();
  expect(step(compute('y1', [['x', [A]]]))).toEqual([{ type: 'fetch', holder: A, keys: ['x'] }]);
  expect(step(compute('y2', [['x', [A]]]))).toEqual([]);
  const out = step({ type: 'fetch-done', holder: A, keys: ['x'], got: [] });
  expect(out).toEqual([
    { type: 'missing-data', key: 'y1', dep: 'x', from: A },
    { type: 'missing-data', key: 'y2', dep: 'x', from: A },
  ]);
  expect(sm.tasks.size).toBe(0);
  for (const key of ['y1', 'y2']) {
    expect(sm.story(key).at(-1)).toMatchObject({
      from: 'waiting',
      to: 'forgotten',
      cause: 'fetch-done',
    });
  }
});

test('a task dropped for a missing input stops waiting on its other inputs; they are kept when they come', () => {
  const { sm, step } = machine();
  step(
    compute('y', [
      ['x1', [A]],
      ['x2', [B]],
    ]),
  );
  expect(step({ type: 'fetch-done', holder: A, keys: ['x1'], got: [] })).toEqual([
    { type: 'missing-data', key: 'y', dep: 'x1', from: A },
  ]);
  expect(sm.deps.get('x2')?.waiters.size).toBe(0);
  expect(step({ type: 'fetch-done', holder: B, keys: ['x2'], got: [got('x2')] })).toEqual([
    { type: 'add-keys', keys: ['x2'], nbytes: [8] },
  ]);
  expect(sm.tasks.size).toBe(0);
});

test('an input nobody holds is missing at once (from "")', () => {
  const { step } = machine();
  expect(step(compute('y', [['x', []]]))).toEqual([
    { type: 'missing-data', key: 'y', dep: 'x', from: '' },
  ]);
});

test('free-keys forgets results; a later task needing one fetches it again', () => {
  const { sm, step } = machine();
  step({ type: 'put-data', key: 'x', value: 'X', nbytes: 1 });
  expect(step({ type: 'free-keys', keys: ['x', 'never-here'] })).toEqual([]);
  expect(sm.data.has('x')).toBe(false);
  expect(step(compute('y', [['x', [A]]]))).toEqual([{ type: 'fetch', holder: A, keys: ['x'] }]);
});

test('a compute of a key already here is reported finished without running again', () => {
  const { step } = machine();
  const run = runOf(step(compute('y')), 'y');
  step(result('y', run));
  expect(step(compute('y'))).toEqual([{ type: 'task-finished', key: 'y', nbytes: 8, duration: 0 }]);
});

test('the result of a cancelled task is not reported', () => {
  const { sm, step } = machine();
  const run = runOf(step(compute('y')), 'y');
  expect(step({ type: 'cancel-compute', keys: ['y'] })).toEqual([
    { type: 'cancel-run', key: 'y', run, graceMs: CANCEL_GRACE_MS },
  ]);
  expect(step(result('y', run))).toEqual([]);
  expect(sm.data.has('y')).toBe(false);
  expect(sm.tasks.size).toBe(0);
});

test('a cancelled run past its grace has its thread terminated; its death is not an error', () => {
  const { sm, step } = machine();
  const run = runOf(step(compute('spin')), 'spin');
  step({ type: 'cancel-compute', keys: ['spin'] });
  expect(step({ type: 'grace-over', key: 'spin', run })).toEqual([
    { type: 'terminate', key: 'spin', run },
  ]);
  expect(step({ type: 'thread-died', key: 'spin', run, reason: 'terminated' })).toEqual([]);
  expect(sm.tasks.size).toBe(0);
});

test('a compute that comes while the cancelled run is terminated runs afresh after', () => {
  const { step } = machine();
  const run = runOf(step(compute('spin')), 'spin');
  step({ type: 'cancel-compute', keys: ['spin'] });
  step({ type: 'grace-over', key: 'spin', run });
  expect(step(compute('spin'))).toEqual([]);
  const out = step({ type: 'thread-died', key: 'spin', run, reason: 'terminated' });
  const again = runOf(out, 'spin');
  expect(again).not.toBe(run);
  expect(step(result('spin', again))).toEqual([
    { type: 'task-finished', key: 'spin', nbytes: 8, duration: 0.1 },
  ]);
});

test('a compute within the grace resumes the run: its result is reported, the grace ends nothing', () => {
  const { step } = machine();
  const run = runOf(step(compute('y')), 'y');
  step({ type: 'cancel-compute', keys: ['y'] });
  expect(step(compute('y'))).toEqual([]);
  expect(step({ type: 'grace-over', key: 'y', run })).toEqual([]);
  expect(step(result('y', run))).toEqual([
    { type: 'task-finished', key: 'y', nbytes: 8, duration: 0.1 },
  ]);
});

test('a run dropped by the pool before it started ends the cancelled task quietly', () => {
  const { sm, step } = machine();
  const run = runOf(step(compute('y')), 'y');
  step({ type: 'cancel-compute', keys: ['y'] });
  expect(step({ type: 'run-dropped', key: 'y', run })).toEqual([]);
  expect(sm.tasks.size).toBe(0);
});

test('a thread that dies under a running task errs it with ERR_THREAD_EXITED', () => {
  const { step } = machine();
  const run = runOf(step(compute('y')), 'y');
  expect(step({ type: 'thread-died', key: 'y', run, reason: 'exit code 3' })).toEqual([
    {
      type: 'task-erred',
      key: 'y',
      duration: 0,
      error: expect.objectContaining({
        code: 'ERR_THREAD_EXITED',
        message: expect.stringContaining('exit code 3'),
      }),
    },
  ]);
});

test('story(key) lists what happened to a key and what caused it', () => {
  const { sm, step } = machine();
  step(compute('y', [['x', [A]]], 'msg-1'));
  step({ type: 'cancel-compute', keys: ['y'], stimulusId: 'msg-2' });
  step(compute('y', [['x', [A]]], 'msg-3'));
  const run = runOf(step({ type: 'fetch-done', holder: A, keys: ['x'], got: [got('x')] }), 'y');
  step(result('y', run));
  expect(sm.story('y').map(({ from, to, cause }) => [from, to, cause])).toEqual([
    ['new', 'waiting', 'compute msg-1'],
    ['waiting', 'forgotten', 'cancel-compute msg-2'],
    ['new', 'waiting', 'compute msg-3'],
    ['waiting', 'executing', 'fetch-done'],
    ['executing', 'memory', 'task-result'],
  ]);
  expect(sm.story('x').map(({ from, to }) => [from, to])).toEqual([
    ['new', 'fetch'],
    ['fetch', 'flight'],
    ['flight', 'memory'],
  ]);
  expect(sm.story('y')[0].now).toBeGreaterThan(0);
});

test('validateState catches a broken invariant', () => {
  const { sm, step } = machine();
  step(compute('y', [['x', [A]]]));
  sm.deps.get('x')!.waiters.clear();
  expect(() => sm.validateState()).toThrow(/does not list waiter y/);
});

describe('acquire-replicas (data of a retiring worker)', () => {
  test('fetches the keys for their own sake, tries the next holder, and reports add-keys', () => {
    const { sm, step } = machine();
    const out = step({
      type: 'acquire-replicas',
      deps: [
        { key: 'r1', who: [A, B] },
        { key: 'r2', who: [A] },
      ],
    });
    expect(out).toEqual([{ type: 'fetch', holder: A, keys: ['r1', 'r2'] }]);
    // A sent r2 only: r1 is asked of B, and r2 is reported.
    expect(step({ type: 'fetch-done', holder: A, keys: ['r1', 'r2'], got: [got('r2')] })).toEqual([
      { type: 'add-keys', keys: ['r2'], nbytes: [8] },
      { type: 'fetch', holder: B, keys: ['r1'] },
    ]);
    expect(step({ type: 'fetch-done', holder: B, keys: ['r1'], got: [got('r1')] })).toEqual([
      { type: 'add-keys', keys: ['r1'], nbytes: [8] },
    ]);
    expect([...sm.data.keys()].sort()).toEqual(['r1', 'r2']);
  });

  test('a key already here is reported at once; one nobody has is dropped without missing-data', () => {
    const { sm, step } = machine();
    step({ type: 'put-data', key: 'x', value: 'X', nbytes: 1 });
    expect(step({ type: 'acquire-replicas', deps: [{ key: 'x', who: [A] }] })).toEqual([
      { type: 'add-keys', keys: ['x'], nbytes: [1] },
    ]);
    step({ type: 'acquire-replicas', deps: [{ key: 'gone', who: [A] }] });
    expect(step({ type: 'fetch-failed', holder: A, keys: ['gone'], reason: 'x' })).toEqual([]);
    expect(sm.deps.size).toBe(0);
  });
});

test('put-data never overwrites a key held here: a put cannot forge a result', () => {
  const { sm, step } = machine();
  const out = step(compute('x'));
  step(result('x', runOf(out, 'x')));
  step({ type: 'put-data', key: 'x', value: 'forged', nbytes: 6 });
  expect(sm.data.get('x')!.value).toBe('value:x');
});

// Gang tasks (issue 21): a member other than gang rank 0 keeps and reports nothing; a new attempt
// of a gang never takes over the cancelled run of the old one.

test("a gang member's part ends its run with nothing kept or reported", () => {
  const { sm, step } = machine();
  const run = runOf(step(compute('g')), 'g');
  expect(step({ type: 'task-part', key: 'g', run })).toEqual([]);
  expect(sm.tasks.has('g')).toBe(false);
  expect(sm.data.has('g')).toBe(false);
});

test('a fresh compute of a cancelled gang runs again once the old run ends, whatever it returns', () => {
  const { step } = machine();
  const old = runOf(step(compute('g')), 'g');
  step({ type: 'cancel-compute', keys: ['g'] });
  // The new attempt waits for the old run: its communicator was abandoned.
  expect(step({ ...compute('g'), fresh: true } as Input)).toEqual([]);
  const error = { name: 'Error', message: 'abandoned', code: 'ERR_GANG_ABANDONED' };
  const out = step({ type: 'task-error', key: 'g', run: old, error, duration: 0 });
  const again = runOf(out, 'g');
  expect(again).not.toBe(old);
  expect(out).toEqual([{ type: 'run', key: 'g', run: again, payload: 'fn:g', deps: [] }]);
  expect(step(result('g', again))).toEqual([
    { type: 'task-finished', key: 'g', nbytes: 8, duration: 0.1 },
  ]);
});

test('without fresh, a compute of a cancelled task takes over its run (ordinary tasks)', () => {
  const { step } = machine();
  const run = runOf(step(compute('y')), 'y');
  step({ type: 'cancel-compute', keys: ['y'] });
  expect(step(compute('y'))).toEqual([]);
  expect(step(result('y', run))).toEqual([
    { type: 'task-finished', key: 'y', nbytes: 8, duration: 0.1 },
  ]);
});
