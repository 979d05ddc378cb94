/**
 * fireAndForget's scheduler side (issue 22, item 4): the coordination holder wants a fired key
 * until the core reports it in memory or erred to the holder, then lets it go, as the server
 * routes those reports (server.ts carryOut -> Coordination.settled).
 */
import { SchedulerCore, type SchedulerAction } from '../../src/scheduler';
import { COORD_HOLDER, Coordination, type CoordStep } from '../../src/scheduler/coordination';
import type { OpOf } from '../../src/protocol';
import { of, task, worker, type P } from '../helpers/core';

let core: SchedulerCore<P>;
let co: Coordination<P>;
let req = 0;

beforeEach(() => {
  core = new SchedulerCore<P>({ workerTtl: 60_000, clientTtl: 5000 });
  co = new Coordination<P>(core.tasks);
  core.handle([
    { type: 'client-join', client: 'c1', now: 0 },
    { type: 'worker-join', worker: worker('w'), now: 0 },
  ]);
});
afterEach(() => core.validateState());

/**
 * Runs core events as the server does: the holder's settled keys go back to coordination, whose
 * events run in turn. Returns every action, those of the nested runs too.
 */
function run(events: Parameters<SchedulerCore<P>['handle']>[0]): SchedulerAction<P>[] {
  const acts = core.handle(events);
  for (const a of [...acts]) {
    if ((a.type === 'key-done' || a.type === 'key-erred') && a.client === COORD_HOLDER) {
      const step = co.settled(a.key, 0);
      if (step.events.length > 0) acts.push(...run(step.events));
    }
  }
  return acts;
}
function drive(step: CoordStep<P>): OpOf<'coord-reply'>[] {
  if (step.events.length > 0) run(step.events);
  return step.messages.map((m) => m.op).filter((op) => op.t === 'coord-reply');
}
const fire = (key: string) => {
  const op: OpOf<'coord'> = { t: 'coord', req: ++req, action: 'fire-and-forget', name: key, nf: 0 };
  return drive(co.request('c1', op, [], 0))[0];
};

test('a fired task released by its client still runs, and is let go once in memory', () => {
  const start = run({ type: 'submit', client: 'c1', tasks: [task('x')] });
  expect(of(start, 'compute').map((c) => c.key)).toEqual(['x']);
  expect(fire('x').error).toBeUndefined();
  const released = run({ type: 'release', client: 'c1', keys: ['x'] });
  expect(of(released, 'cancel-compute')).toEqual([]);
  expect(core.tasks.get('x')?.state).toBe('processing');
  const done = run({
    type: 'task-finished',
    worker: 'w',
    key: 'x',
    nbytes: 8,
    duration: 0,
    inline: null,
  });
  expect(of(done, 'free-keys')).toEqual([{ type: 'free-keys', worker: 'w', keys: ['x'] }]);
  expect(core.tasks.has('x')).toBe(false);
  expect(co.heldKeys).toEqual([]);
  expect(core.clients.has(COORD_HOLDER)).toBe(false);
});

test('a fired task that errs is let go too; an unknown key is a misuse', () => {
  run({ type: 'submit', client: 'c1', tasks: [task('bad')] });
  fire('bad');
  run({ type: 'release', client: 'c1', keys: ['bad'] });
  const error = { name: 'Error', message: 'boom' };
  run({ type: 'task-erred', worker: 'w', key: 'bad', error, duration: 0 });
  expect(core.tasks.has('bad')).toBe(false);
  expect(co.heldKeys).toEqual([]);
  expect(fire('never').error?.code).toBe('ERR_COORD_MISUSE');
});
