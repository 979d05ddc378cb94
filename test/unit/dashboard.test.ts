import { SchedulerCore } from '../../src/scheduler';
import { Dashboard } from '../../src/observe/dashboard';
import { keyPrefix } from '../../src/util/key-prefix';
import { task, worker, type P } from '../helpers/core';

/**
 * What the page receives stays the same size however many tasks are in flight: a snapshot costs
 * the number of task kinds and workers, and the task stream sends at most 2,000 bars a second.
 */
test('with 1,000,000 tasks in flight and 256 workers a snapshot stays small and bounded', () => {
  const core = new SchedulerCore<P>({});
  core.handle({ type: 'client-join', client: 'c', now: 0 });
  core.handle(
    Array.from({ length: 256 }, (_, i) => ({
      type: 'worker-join' as const,
      worker: worker(`w${i}`, 4),
      now: 0,
    })),
  );
  const dashboard = new Dashboard({
    core,
    workerStats: () => ({ cpu: 0.5, rss: 1e8, lag: 0, transferBytes: 0 }),
  });
  try {
    const sizes: number[] = [];
    for (const total of [10_000, 1_000_000]) {
      const start = core.tasks.size;
      const tasks = [];
      for (let i = start; i < total; i++)
        tasks.push(task(`square-${i.toString(16).padStart(24, '0')}`));
      core.handle({ type: 'submit', client: 'c', tasks });
      // A flood of finished tasks between two pushes.
      for (let i = 0; i < 100_000; i++)
        dashboard.taskDone(`w${i % 256}`, `square-${i}`, 0.001, false);
      const snap = dashboard.snapshot() as {
        progress: { prefix: string }[];
        bars: unknown[];
        barsDropped: number;
        workers: unknown[];
      };
      expect(snap.progress.map((p) => p.prefix)).toEqual(['square']);
      expect(snap.workers).toHaveLength(256);
      expect(snap.bars).toHaveLength(2000);
      expect(snap.barsDropped).toBe(98_000);
      sizes.push(JSON.stringify(snap).length);
    }
    const [small, large] = sizes;
    expect(large).toBeLessThan(small * 1.01 + 100); // not a byte more per task
    expect(large).toBeLessThan(400_000);
    const { progress } = dashboard.snapshot() as { progress: Record<string, number>[] };
    const counted = Object.entries(progress[0])
      .filter(([k]) => k !== 'prefix')
      .reduce((a, [, v]) => a + Number(v), 0);
    expect(counted).toBe(1_000_000);
  } finally {
    dashboard.close();
  }
}, 120_000);

test("a key's kind is the words before its id, as Dask splits keys; all id is 'data'", () => {
  expect(keyPrefix(`square-${'9f2c'.repeat(6)}`)).toBe('square');
  expect(keyPrefix('task-1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed')).toBe('task');
  expect(keyPrefix('load-17')).toBe('load');
  expect(keyPrefix(`inc-0000abcd-${'0'.repeat(24)}`)).toBe('inc');
  expect(keyPrefix('hello-world-1')).toBe('hello-world');
  expect(keyPrefix('read_csv-3')).toBe('read_csv');
  expect(keyPrefix('ae05086432ca935f')).toBe('data');
  expect(keyPrefix('x')).toBe('x');
});

test('counts by kind stay bounded: beyond 1,000 kinds at once the rest share "other"', () => {
  const core = new SchedulerCore<P>({});
  core.handle({ type: 'client-join', client: 'c', now: 0 });
  core.handle({
    type: 'submit',
    client: 'c',
    tasks: Array.from({ length: 2500 }, (_, i) => task(`kind${i}-1`)),
  });
  expect(core.byPrefix.size).toBe(1001);
  expect(core.byPrefix.get('other')).toEqual({ released: 0, waiting: 0, queued: 1500 });
  core.validateState();
  core.handle({
    type: 'release',
    client: 'c',
    keys: Array.from({ length: 2500 }, (_, i) => `kind${i}-1`),
  });
  expect(core.byPrefix.size).toBe(0);
  core.validateState();
});

test("the worker table shows what each worker offers: a GPU worker's { GPU: 1 }", () => {
  const core = new SchedulerCore<P>({});
  core.handle([
    { type: 'worker-join', worker: worker('g', 1, { resources: { GPU: 1 } }), now: 0 },
    { type: 'worker-join', worker: worker('c'), now: 0 },
  ]);
  const dashboard = new Dashboard({ core, workerStats: () => undefined });
  try {
    const { workers } = dashboard.snapshot() as {
      workers: { id: string; resources: Record<string, number> }[];
    };
    expect(Object.fromEntries(workers.map((w) => [w.id, w.resources]))).toEqual({
      g: { GPU: 1 },
      c: {},
    });
  } finally {
    dashboard.close();
  }
});
