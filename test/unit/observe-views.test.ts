import { SchedulerCore } from '../../src/scheduler';
import { HISTORY_SAMPLES, WorkerHistories, graphView } from '../../src/observe/views';
import { task, worker, type P } from '../helpers/core';

/** The data behind /graph and a worker's page (issue 24), from a pure core. */
let core: SchedulerCore<P>;
beforeEach(() => {
  core = new SchedulerCore<P>({ workerTtl: 60_000, clientTtl: 60_000 });
  core.handle({ type: 'client-join', client: 'c1', now: 0 });
  core.handle({ type: 'worker-join', worker: worker('a', 1), now: 0 });
});
const source = () => ({
  core,
  workerStats: () => ({ cpu: 0.5, rss: 1, lag: 0, transferBytes: 0 }),
});

test('graph: each task a node with its state and worker, edges as indices of its inputs', () => {
  core.handle({
    type: 'submit',
    client: 'c1',
    tasks: [task('x'), task('y'), task('z', ['x', 'y'])],
  });
  const g = graphView(source());
  if (!('nodes' in g)) throw new Error('expected nodes');
  const at = (k: string) => g.nodes.findIndex((n) => n.key === k);
  expect(g.nodes[at('z')].deps.sort()).toEqual([at('x'), at('y')].sort());
  expect(g.nodes[at('z')].state).toBe('waiting');
  expect(g.nodes[at('x')]).toMatchObject({ state: 'processing', worker: 'name-a' });
});

test('graph: beyond its limit, the count instead of the nodes', () => {
  core.handle({ type: 'submit', client: 'c1', tasks: ['a', 'b', 'c'].map((k) => task(k)) });
  expect(graphView(source(), 2)).toEqual({ tooMany: 3, limit: 2 });
});

test("a worker's history keeps its last samples only, and forgets a worker that left", () => {
  const h = new WorkerHistories();
  for (let i = 0; i < HISTORY_SAMPLES + 10; i++) h.sample(source(), i);
  expect(h.of('a')!.at).toHaveLength(HISTORY_SAMPLES);
  expect(h.of('a')!.at[0]).toBe(10);
  expect(h.of('a')!.cpu[0]).toBe(0.5);
  core.handle({ type: 'worker-leave', worker: 'a', reason: 'test' });
  h.sample(source(), 1000);
  expect(h.of('a')).toBeUndefined();
});
