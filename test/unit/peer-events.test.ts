import { clientEvent, workerEvent, workerJoin } from '../../src/scheduler/peer-events';
import { worker } from '../helpers/core';

/** A peer's op with fields of the core's own events riding along, as a hostile member would send. */
const riding = { type: 'tick', now: 9e15, worker: 'w-other', client: 'c-other' };

test("events are built from a peer's named fields only: core-event fields riding on an op are dropped", () => {
  const op = { t: 'task-finished', key: 'k', nbytes: 8, duration: 0.1, nf: 0, ...riding };
  expect(workerEvent('w1', { op: op as never, frames: [] })).toEqual({
    type: 'task-finished',
    worker: 'w1',
    key: 'k',
    nbytes: 8,
    duration: 0.1,
    inline: null,
  });
  const release = { t: 'release', keys: ['a'], ...riding };
  expect(clientEvent('c1', release as never)).toEqual({
    type: 'release',
    client: 'c1',
    keys: ['a'],
  });
  const joined = workerJoin({ ...worker('w2'), ...riding } as never, 5);
  expect(joined).toEqual({ type: 'worker-join', worker: worker('w2'), now: 5 });
});

test("a worker's error report keeps name, message, stack and code, nothing else", () => {
  const op = {
    t: 'task-erred',
    key: 'k',
    duration: 0,
    error: { name: 'Error', message: 'm', code: 'ERR_X', worker: 42, extra: { big: 1 } },
  };
  expect(workerEvent('w1', { op: op as never, frames: [] })).toEqual({
    type: 'task-erred',
    worker: 'w1',
    key: 'k',
    duration: 0,
    error: { name: 'Error', message: 'm', code: 'ERR_X' },
  });
});

test('ops that are requests, not core events, give none: the server answers them', () => {
  expect(clientEvent('c1', { t: 'info', req: 1 })).toBeNull();
  expect(workerEvent('w1', { op: { t: 'heartbeat' }, frames: [] })).toBeNull();
});
