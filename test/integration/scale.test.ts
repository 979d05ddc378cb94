import type { Future } from '../../src';
import { sharedCluster } from '../helpers/shared-cluster';
import { startCli } from '../helpers/cluster';
import { KEYS_ENV } from '../../src/net/security';

/**
 * Each graph shape at the size HPC users run, end to end through a real LocalCluster (scheduler
 * in this process, worker processes over ZeroMQ). The pure core is tested at the same sizes in
 * test/unit/scheduler-scale.test.ts; these check the sockets, batching and slicing around it.
 */
const shared = sharedCluster({ nWorkers: 2 });

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Resolves once `check` holds, looking again every 50 ms; fails the test after `ms`. */
async function until(check: () => boolean, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const schedulerTasks = () => shared.cluster.scheduler.core.tasks.size;

test('a map of 1,000,000 tasks gathers every result in order, and all is freed after', async () => {
  const n = 1_000_000;
  let fs: Future<number>[] | null = shared.client.map((x: number) => x * 2, range(n));
  const results = await shared.client.gather(fs);
  expect(results).toHaveLength(n);
  expect(results.findIndex((r, i) => r !== i * 2)).toBe(-1);
  expect(shared.cluster.scheduler.core.workers.size).toBe(2); // no worker was dropped on the way
  for (const f of fs) f.release();
  fs = null;
  await until(() => schedulerTasks() === 0, 'the scheduler to forget 1,000,000 released keys');
}, 600_000);

/**
 * Every test releases what it made, explicitly: a Future dropped without `release()` is freed
 * only when V8 collects it (FinalizationRegistry), which no test can await. Checking here that
 * the scheduler is empty at each start keeps one test's leftovers from failing the next.
 */
beforeEach(() => until(() => schedulerTasks() === 0, 'the previous test to be forgotten'));

/** A chain whose root never ends (until cancelled or released), however long the set-up takes. */
async function chainOnStuckRoot(n: number): Promise<Future<number>[]> {
  const root = shared.client.submit(() => new Promise<number>(() => {}));
  const links: Future<number>[] = [root];
  for (let i = 0; i < n; i++) links.push(shared.client.submit((x: number) => x + 1, links[i]));
  await until(() => schedulerTasks() === n + 1, 'the chain to reach the scheduler');
  return links;
}

const releaseAll = (fs: Future<unknown>[]) => fs.forEach((f) => f.release());

describe('a chain of 100,000 tasks', () => {
  const n = 100_000;

  test('computes, each link after the one before', async () => {
    const links: Future<number>[] = [shared.client.submit((x: number) => x, 0)];
    for (let i = 0; i < n; i++) links.push(shared.client.submit((x: number) => x + 1, links[i]));
    expect(await links[n].result()).toBe(n);
    releaseAll(links);
    await until(() => schedulerTasks() === 0, 'the chain to be forgotten');
  }, 600_000);

  test('released while its root runs: every link is forgotten', async () => {
    const links = await chainOnStuckRoot(n);
    releaseAll(links);
    await until(() => schedulerTasks() === 0, 'the released chain to be forgotten');
  }, 120_000);

  test('failed at the root: the last link errs with the root error', async () => {
    const links: Future<number>[] = [
      shared.client.submit((): number => {
        throw new RangeError('bad root');
      }),
    ];
    for (let i = 0; i < n; i++) links.push(shared.client.submit((x: number) => x + 1, links[i]));
    await expect(links[n].result()).rejects.toMatchObject({ code: 'ERR_TASK_FAILED' });
    await expect(links[n].result()).rejects.toThrow('bad root');
    expect(links.every((l) => l.status === 'error')).toBe(true);
    releaseAll(links);
    await until(() => schedulerTasks() === 0, 'the failed chain to be forgotten');
  }, 120_000);

  test('cancelled at the root: every link is cancelled', async () => {
    const links = await chainOnStuckRoot(n);
    const root = links[0];
    await root.cancel();
    await shared.client.wait(links);
    expect(links.every((l) => l.status === 'cancelled')).toBe(true);
    await expect(links[n].result()).rejects.toMatchObject({ code: 'ERR_CANCELLED' });
    releaseAll(links);
    await until(() => schedulerTasks() === 0, 'the cancelled chain to be forgotten');
  }, 120_000);
});

test('one task taking 100,000 futures gets every value', async () => {
  const n = 100_000;
  const xs = shared.client.map((x: number) => x, range(n));
  const total = shared.client.submit((values: number[]) => values.reduce((a, b) => a + b, 0), xs);
  expect(await total.result()).toBe((n * (n - 1)) / 2);
  releaseAll([...xs, total]);
}, 300_000);

test('one future feeding 100,000 tasks: each gets its value', async () => {
  const n = 100_000;
  const root = shared.client.submit(() => 1000);
  const fs = shared.client.map((r: number, i: number) => r + i, new Array(n).fill(root), range(n));
  const results = await shared.client.gather(fs);
  expect(results.findIndex((r, i) => r !== 1000 + i)).toBe(-1);
  releaseAll([root, ...fs]);
}, 300_000);

test('100,000 restricted tasks run in priority order once their worker joins', async () => {
  const n = 100_000;
  const priorities = range(n).map((i) => (i * 7919) % 100);
  // Each task returns its place in the order the one executor thread ran them.
  const fs = priorities.map((priority) =>
    shared.client.submitWith({ priority, workers: ['late-gpu'] }, () => {
      const g = globalThis as { ranSoFar?: number };
      g.ranSoFar = (g.ranSoFar ?? 0) + 1;
      return g.ranSoFar;
    }),
  );
  await until(() => shared.cluster.scheduler.core.counts().queued === n, 'all tasks to queue');
  const late = startCli(
    'cli/worker.js',
    [shared.cluster.address, '--name', 'late-gpu', '--nthreads', '1'],
    { [KEYS_ENV]: JSON.stringify(shared.cluster.keys) }, // as LocalCluster passes them
  );
  try {
    const places = await shared.client.gather(fs);
    const byPlace = range(n).sort((a, b) => places[a] - places[b]);
    const expected = range(n).sort((a, b) => priorities[b] - priorities[a] || a - b);
    expect(byPlace.findIndex((k, i) => k !== expected[i])).toBe(-1);
    releaseAll(fs);
  } finally {
    late.child.kill('SIGTERM');
    await late.exited;
  }
}, 300_000);
