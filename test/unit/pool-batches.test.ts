/**
 * How the thread pool batches tiny tasks: many at once to one thread, but never more than about
 * 1 MiB of inputs in one message (a message to a thread is copied whole: 48 tiny tasks on 32 MB
 * values each once moved 1.5 GB into one thread at once and the worker died of it).
 * Real threads from dist/ (the pool starts dist/worker/executor.js).
 */
import * as path from 'node:path';
import { DIST } from '../helpers/cluster';
import type * as PoolModule from '../../src/worker/pool';
import type * as ProtocolModule from '../../src/protocol';

const { ThreadPool } = require(path.join(DIST, 'worker', 'pool.js')) as typeof PoolModule;
const { pack } = require(path.join(DIST, 'protocol')) as typeof ProtocolModule;

/** Runs `tasks` on a one-thread pool warmed with tiny tasks; returns the size of each answer. */
async function answerSizes(tasks: { deps: [string, Buffer[]][] }[]): Promise<number[]> {
  const sizes: number[] = [];
  let waiting = 0;
  let done!: () => void;
  const pool = new ThreadPool(1, (rs) => {
    sizes.push(rs.length);
    waiting -= rs.length;
    if (waiting === 0) done();
  });
  const spec = { kind: 'source' as const, source: '() => 1', name: 'one' };
  let run = 0;
  const submitAll = (ts: { deps: [string, Buffer[]][] }[]) => {
    const all = new Promise<void>((r) => (done = r));
    waiting = ts.length;
    for (const t of ts) {
      run += 1;
      pool.submit({ run, key: `k${run}`, fnId: 'one', spec, args: pack([]), deps: t.deps });
    }
    return all;
  };
  try {
    // Tiny tasks, one at a time, so the pool's mean task time is well under 1 ms.
    for (let i = 0; i < 20; i++) await submitAll([{ deps: [] }]);
    sizes.length = 0;
    await submitAll(tasks);
    return sizes;
  } finally {
    await pool.close();
  }
}

test('tiny tasks with small inputs go to a thread many at a time', async () => {
  const small = Array.from({ length: 16 }, () => ({
    deps: [['d', pack(Buffer.alloc(1000))]] as [string, Buffer[]][],
  }));
  // The first goes alone (nothing else is queued yet); the rest wait and go together.
  expect(Math.max(...(await answerSizes(small)))).toBeGreaterThan(1);
});

test('tiny tasks on 4 MiB values go to a thread one at a time', async () => {
  const big = Array.from({ length: 8 }, () => ({
    deps: [['d', pack(Buffer.alloc(4 * 2 ** 20))]] as [string, Buffer[]][],
  }));
  expect(await answerSizes(big)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
});

test('a batch stops before its inputs pass 1 MiB', async () => {
  // 300 KB each: three fit in a batch, a fourth would pass 1 MiB.
  const mid = Array.from({ length: 13 }, () => ({
    deps: [['d', pack(Buffer.alloc(300_000))]] as [string, Buffer[]][],
  }));
  const sizes = await answerSizes(mid);
  expect(sizes.reduce((a, b) => a + b, 0)).toBe(13);
  expect(Math.max(...sizes)).toBe(3);
});
