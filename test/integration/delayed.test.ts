/**
 * Lazy graphs (issue 22) on a real LocalCluster: compute, persist, culling, fusion, errors.
 * Calls are counted by appending a line to a file per call (workers are other processes).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { delayed, type Delayed } from '../../src';
import { sharedCluster } from '../helpers/shared-cluster';

const shared = sharedCluster({ nWorkers: 2, threadsPerWorker: 1, dashboardAddress: ':0' });

const inc = (x: number) => x + 1;
const double = (x: number) => x * 2;
const add = (a: number, b: number) => a + b;
/** Appends `tag` to `file`, so the test can count the calls; returns x + 1. */
const counted = (x: number, file: string, tag: string) => {
  require('node:fs').appendFileSync(file, `${tag}\n`);
  return x + 1;
};

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'delayed-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let files = 0;
const callFile = () => path.join(dir, `calls-${files++}`);
const calls = (file: string): string[] =>
  fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n') : [];

/** Tasks the scheduler has seen since it started: those it holds and those it forgot. */
async function tasksSeen(): Promise<number> {
  const text = await (await fetch(shared.client.metricsLink!)).text();
  let n = 0;
  for (const line of text.split('\n')) {
    if (/^mpi_cluster_scheduler_tasks(_forgotten_total)?[{ ]/.test(line))
      n += Number(line.split(' ').pop());
  }
  return n;
}

test('a diamond computes, on the client given and on the default client', async () => {
  const a = delayed(inc)(1);
  const d = delayed(add)(delayed(inc)(a), delayed(double)(a));
  expect(await shared.client.compute(d)).toBe(7);
  expect(await d.compute()).toBe(7); // the last client that connected: the shared one
});

test('a shared sub-graph (built twice, one key) runs once', async () => {
  const file = callFile();
  const left = delayed(inc)(delayed(counted)(1, file, 'shared'));
  const right = delayed(double)(delayed(counted)(1, file, 'shared'));
  expect(await shared.client.compute(delayed(add)(left, right))).toBe(7);
  expect(calls(file)).toEqual(['shared']);
});

test('nested arrays and objects of nodes, as arguments and as what compute returns', async () => {
  const sum = delayed((o: { xs: number[]; y: { z: number } }) => o.xs[0] + o.xs[1] + o.y.z);
  const node = sum({ xs: [delayed(inc)(1), delayed(inc)(2)], y: { z: delayed(double)(5) } });
  expect(await node.compute()).toBe(15);
  const out = await shared.client.compute({ a: [node, 1], b: { c: delayed(inc)(0) } });
  expect(out).toEqual({ a: [15, 1], b: { c: 1 } });
  expect(await shared.client.compute(node, delayed(inc)(9))).toEqual([15, 10]);
  expect(await delayed([delayed(inc)(1), { k: delayed(inc)(2) }]).compute()).toEqual([2, { k: 3 }]);
});

test('culling: a node not asked for never runs', async () => {
  const file = callFile();
  const base = delayed(counted)(0, file, 'base');
  const used = delayed(counted)(base, file, 'used');
  delayed(counted)(base, file, 'unused'); // built, never asked for
  expect(await used.compute()).toBe(2);
  expect(calls(file).sort()).toEqual(['base', 'used']);
});

test('a 100,000-node tree reduction runs in one compute', async () => {
  const t0 = Date.now();
  let level: Delayed<number>[] = Array.from({ length: 50_000 }, (_, i) => delayed(inc)(i));
  let nodes = level.length;
  while (level.length > 1) {
    const next: Delayed<number>[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(delayed(add)(level[i], level[i + 1]));
    if (level.length % 2 === 1) next.push(level[level.length - 1]);
    nodes += Math.floor(level.length / 2);
    level = next;
  }
  expect(nodes).toBe(99_999);
  expect(await level[0].compute()).toBe((50_000 * 50_001) / 2);
  expect(Date.now() - t0).toBeLessThan(30_000);
}, 60_000);

test("an error deep in a graph reaches compute naming the failing node's key", async () => {
  const boom = delayed((x: number) => {
    if (x > 2) throw new RangeError(`too big: ${x}`);
    return x;
  });
  const bad = boom(delayed(inc)(delayed(inc)(1)));
  const top = delayed(add)(delayed(inc)(bad), delayed(inc)(5));
  // Fused: the chain inc, inc, boom, inc is one task; the error names the node inside it.
  const fused = await top.compute().catch((e: Error) => e);
  expect(fused).toMatchObject({ code: 'ERR_TASK_FAILED' });
  expect((fused as Error).message).toContain(`too big: 3 (in delayed ${bad.key}`);
  // Unfused: the failing task is the node itself.
  const plain = await top.compute({ optimizeGraph: false }).catch((e: Error) => e);
  expect(plain).toMatchObject({ code: 'ERR_TASK_FAILED', remote: { key: bad.key } });
  expect((plain as Error).message).toContain(bad.key);
});

test('fusion: a 10,000-long chain runs as one task, with the result of the unfused chain', async () => {
  const step = delayed((x: number) => x + 1);
  let chain = step(0);
  for (let i = 1; i < 10_000; i++) chain = step(chain);
  const before = await tasksSeen();
  expect(await chain.compute()).toBe(10_000);
  const fusedTasks = (await tasksSeen()) - before;
  expect(await chain.compute({ optimizeGraph: false })).toBe(10_000);
  const plainTasks = (await tasksSeen()) - before - fusedTasks;
  expect(fusedTasks).toBe(1);
  expect(plainTasks).toBe(10_000);
}, 60_000);

test('futures and nodes mix as arguments, also nested', async () => {
  const c = shared.client;
  const f = c.submit((x: number) => x * 2, 21);
  expect(await c.compute(delayed(add)(f, delayed(inc)(1)))).toBe(44);
  const both = delayed((o: { f: number; n: number[] }) => o.f + o.n[0]);
  expect(await both({ f, n: [delayed(double)(f)] }).compute()).toBe(126);
  expect(await c.compute({ f, n: delayed(inc)(f) })).toEqual({ f: 42, n: 43 });
});

test('persist returns futures at once; a dependent computed later reuses the result', async () => {
  const file = callFile();
  const node = delayed(counted)(5, file, 'persisted');
  const [future] = shared.client.persist([node]);
  expect(future.key).toBe(node.key);
  expect(await future.result()).toBe(6);
  // The node itself again (a new object, the same key) and the future as an argument.
  expect(await delayed(inc)(delayed(counted)(5, file, 'persisted')).compute()).toBe(7);
  expect(await delayed(inc)(future).compute()).toBe(7);
  expect(calls(file)).toEqual(['persisted']);
  const { a, b } = shared.client.persist({ a: delayed(inc)(1), b: delayed(double)(4) });
  expect(await shared.client.gather([a, b])).toEqual([2, 8]);
});
