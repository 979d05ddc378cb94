import { SchedulerCore } from '../../src/scheduler';
import { CompactPayload } from '../../src/scheduler/payload';
import { of, task, worker, type P } from '../helpers/core';

let core: SchedulerCore<P>;

beforeEach(() => {
  core = new SchedulerCore<P>({ workerTtl: 1000, clientTtl: 5000 });
  core.handle({ type: 'client-join', client: 'c1', now: 0 });
  core.handle({ type: 'client-join', client: 'c2', now: 0 });
});
afterEach(() => core.validateState());

test("tasks one client alone wants share one wanters set; a second client's want gives the task its own", () => {
  core.handle({ type: 'submit', client: 'c1', tasks: [task('x'), task('y'), task('z')] });
  const [x, y, z] = ['x', 'y', 'z'].map((k) => core.tasks.get(k)!);
  expect(x.wantedBy).toBe(y.wantedBy);
  expect(x.wantedBy).toEqual(new Set(['c1']));
  core.handle({ type: 'submit', client: 'c2', tasks: [task('y')] });
  expect(y.wantedBy).toEqual(new Set(['c1', 'c2']));
  // The shared set was replaced for y, not changed under x and z.
  expect(x.wantedBy).toEqual(new Set(['c1']));
  expect(z.wantedBy).toBe(x.wantedBy);
  core.handle({ type: 'release', client: 'c1', keys: ['y', 'z'] });
  expect(y.wantedBy).toEqual(new Set(['c2']));
  expect(x.wantedBy).toEqual(new Set(['c1']));
  expect(core.tasks.has('z')).toBe(false);
});

test('a shared wanters set still routes results and cancels to its client alone', () => {
  core.handle({ type: 'worker-join', worker: worker('a'), now: 0 });
  const acts = core.handle({ type: 'submit', client: 'c1', tasks: [task('x'), task('y')] });
  const [first] = of(acts, 'compute');
  const done = of(
    core.handle({
      type: 'task-finished',
      worker: 'a',
      key: first.key,
      nbytes: 1,
      duration: 1,
      inline: null,
    }),
    'key-done',
  );
  expect(done.map((d) => [d.client, d.key])).toEqual([['c1', first.key]]);
  const other = first.key === 'x' ? 'y' : 'x';
  const cancelled = of(
    core.handle({ type: 'cancel', client: 'c1', keys: [other] }),
    'key-cancelled',
  );
  expect(cancelled.map((c) => [c.client, c.key])).toEqual([['c1', other]]);
  expect(core.tasks.get(first.key)!.wantedBy).toEqual(new Set(['c1']));
});

test('a compact payload gives back the one frame it was given, and several frames as they were', () => {
  const message = Buffer.from('header-and-some-packed-arguments');
  const one = new CompactPayload('fn', { kind: 'module', module: '/m.js', export: 'f' }, [
    message.subarray(7, 10),
  ]);
  expect(one.frames.map((f) => f.toString())).toEqual(['and']);
  const spec = { kind: 'source' as const, source: '(x) => x', name: '' };
  const many = [Buffer.from('a'), Buffer.from('bc')];
  expect(new CompactPayload('fn', spec, many).frames).toEqual(many);
  expect(new CompactPayload('fn', spec, []).frames).toEqual([]);
});
