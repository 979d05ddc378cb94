/**
 * The thread pool's per-run answers (issue 22, item 4): a run that secedes leaves its thread free
 * for the next task, which runs beside it on the same thread; answers are matched by run id.
 * Real threads from dist/ (the pool starts dist/worker/executor.js).
 */
import * as path from 'node:path';
import { DIST } from '../helpers/cluster';
import type * as PoolModule from '../../src/worker/pool';
import type * as ProtocolModule from '../../src/protocol';

const { ThreadPool } = require(path.join(DIST, 'worker', 'pool.js')) as typeof PoolModule;
const { pack, unpack } = require(path.join(DIST, 'protocol')) as typeof ProtocolModule;

/**
 * Secedes as a task's wait on its client does (worker/task-client.ts), without a cluster: through
 * the shared per-task context. It waits until a later task on the same thread lets it go.
 */
const waiter = `async (tag) => {
  const shared = globalThis[Symbol.for('mpi-cluster.task-client')];
  const ctx = shared.tasks.getStore();
  ctx.waits += 1;
  shared.report(ctx.run, true);
  ctx.onSecede();
  await new Promise((r) => (globalThis.letGo = r));
  ctx.waits -= 1;
  shared.report(ctx.run, false);
  return tag;
}`;
const freer = `(tag) => { globalThis.letGo(); return tag; }`;

test('a seceded run frees its one thread: the next task runs beside it; answers match runs', async () => {
  const results = new Map<number, PoolModule.PoolResult>();
  const events: string[] = [];
  let ended!: () => void;
  const both = new Promise<void>((r) => (ended = r));
  const pool = new ThreadPool(
    1,
    (rs) => {
      for (const r of rs) {
        results.set(r.run, r);
        events.push(`end ${r.run}`);
      }
      if (results.size === 2) ended();
    },
    {
      onSecede: (run, key, seceded) =>
        events.push(`${seceded ? 'seceded' : 'rejoined'} ${run} ${key}`),
    },
  );
  try {
    const spec = (source: string, name: string) => ({ kind: 'source' as const, source, name });
    pool.submit({
      run: 1,
      key: 'w',
      fnId: 'w',
      spec: spec(waiter, 'w'),
      args: pack(['a']),
      deps: [],
    });
    pool.submit({
      run: 2,
      key: 'f',
      fnId: 'f',
      spec: spec(freer, 'f'),
      args: pack(['b']),
      deps: [],
    });
    await both;
    // Run 2 started only because run 1 seceded; which ends first is up to the thread.
    expect(events[0]).toBe('seceded 1 w');
    expect(events.indexOf('rejoined 1 w')).toBeLessThan(events.indexOf('end 1'));
    expect([...events].sort()).toEqual(['end 1', 'end 2', 'rejoined 1 w', 'seceded 1 w']);
    const value = (run: number) => unpack((results.get(run) as { frames: Uint8Array[] }).frames);
    expect(value(1)).toBe('a');
    expect(value(2)).toBe('b');
    // A run that waited says nothing of task durations.
    expect(results.get(1)).toEqual(expect.objectContaining({ waited: true }));
  } finally {
    await pool.close();
  }
});
