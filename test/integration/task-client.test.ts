/**
 * Tasks that submit tasks (issue 22, item 4) on a real LocalCluster of 1 worker with 1 thread:
 * getClient() inside tasks, secede/rejoin done for the user (a tree of tasks each waiting on its
 * children never deadlocks on one thread), and fireAndForget.
 * Task functions require the built package (dist/), as a user's tasks require 'mpi-cluster'.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, LocalCluster, Variable, fireAndForget, getClient } from '../../src';
import { DIST } from '../helpers/cluster';

let cluster: LocalCluster;
let client: Client;
let dir: string;

beforeAll(async () => {
  cluster = await LocalCluster.start({ nWorkers: 1, threadsPerWorker: 1, dashboardAddress: false });
  client = await Client.connect(cluster);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'task-client-'));
}, 60_000);
afterAll(async () => {
  await client?.close();
  await cluster?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** fib(n) as a tree of tasks: each submits fib(n-1) and fib(n-2) and waits on them. */
async function fib(n: number, dist: string): Promise<number> {
  if (n < 2) return n;
  const m = require(dist) as typeof import('../../src');
  const c = await m.getClient();
  const a = c.submit(fib, n - 1, dist);
  const b = c.submit(fib, n - 2, dist);
  const [x, y] = await c.gather([a, b]);
  return x + y;
}

test('fib(20) as tasks that submit tasks completes on 1 worker with 1 thread', async () => {
  expect(await client.submit(fib, 20, DIST).result()).toBe(6765);
}, 300_000);

test('a task waiting on 1,000 children on 1 thread completes: it gives its slot back meanwhile', async () => {
  const parent = async (dist: string) => {
    const m = require(dist) as typeof import('../../src');
    const c = await m.getClient();
    const kids = [];
    for (let i = 0; i < 1000; i++) kids.push(c.submit((x: number) => x * 2, i));
    const values = (await c.gather(kids)) as number[];
    return values.reduce((s, v) => s + v, 0);
  };
  expect(await client.submit(parent, DIST).result()).toBe(999 * 1000);
}, 120_000);

test('getClient() is one connection per thread: the same client twice in a task and in two tasks', async () => {
  const ids = async (dist: string, tag: number) => {
    const m = require(dist) as typeof import('../../src');
    const first = await m.getClient();
    const second = await m.getClient();
    return { tag, first: first.id, second: second.id };
  };
  const a = await client.submit(ids, DIST, 1).result();
  const b = await client.submit(ids, DIST, 2).result();
  expect(a.first).toBe(a.second);
  expect(b.first).toBe(a.first);
  expect(a.first).not.toBe(client.id);
});

test("getClient()'s client is the thread's default: node.compute() and new Variable(name) in a task", async () => {
  const task = async (dist: string) => {
    const m = require(dist) as typeof import('../../src');
    await m.getClient();
    const inc = m.delayed((x: number) => x + 1);
    const sum = (await inc(inc(1)).compute()) as number;
    await new m.Variable('from-task').set(sum);
    return sum;
  };
  expect(await client.submit(task, DIST).result()).toBe(3);
  expect(await new Variable('from-task', client).get()).toBe(3);
});

test('a task waiting on a coordination primitive gives its slot back: a later task on the one thread sets it', async () => {
  const waiter = async (dist: string) => {
    const m = require(dist) as typeof import('../../src');
    await m.getClient();
    return new m.Event('task-client-go').wait('60s');
  };
  const setter = async (dist: string) => {
    const m = require(dist) as typeof import('../../src');
    await m.getClient();
    await new m.Event('task-client-go').set();
    return 'set';
  };
  const waiting = client.submit(waiter, DIST);
  expect(await client.submit(setter, DIST).result()).toBe('set');
  expect(await waiting.result()).toBe(true);
});

test('getClient() outside a task throws ERR_NOT_IN_TASK', () => {
  expect(() => getClient()).toThrow(expect.objectContaining({ code: 'ERR_NOT_IN_TASK' }));
});

test("a recursive tree whose leaves throw errs the root with the leaf's error", async () => {
  async function tree(depth: number, dist: string): Promise<number> {
    if (depth === 0) throw new RangeError('leaf went wrong');
    const m = require(dist) as typeof import('../../src');
    const c = await m.getClient();
    const kids = [c.submit(tree, depth - 1, dist), c.submit(tree, depth - 1, dist)];
    const values = (await c.gather(kids)) as number[];
    return values[0] + values[1];
  }
  const root = client.submit(tree, 3, DIST);
  await expect(root.result()).rejects.toThrow('leaf went wrong');
});

test('fireAndForget: a task whose future was released runs to its end, and its result is not kept', async () => {
  const file = path.join(dir, 'fired');
  const gate = path.join(dir, 'gate');
  // The one thread is busy until the gate opens, so the fired task has not started when its
  // future is released: without fireAndForget it would never run.
  const blocker = client.submit(async (gateFile: string) => {
    const fsm = require('node:fs') as typeof fs;
    while (!fsm.existsSync(gateFile)) await new Promise((r) => setTimeout(r, 20));
    return 1;
  }, gate);
  const before = (await counts()).memory ?? 0;
  const fired = client.submit((out: string) => {
    require('node:fs').writeFileSync(out, 'done');
    return 'not kept';
  }, file);
  await fireAndForget(fired);
  fired.release();
  fs.writeFileSync(gate, '');
  expect(await blocker.result()).toBe(1);
  await waitFor(() => fs.existsSync(file));
  expect(fs.readFileSync(file, 'utf8')).toBe('done');
  // Let go once in memory: nothing runs, and no result but the blocker's is held.
  await waitFor(async () => {
    const c = await counts();
    return !c.processing && !c.queued && !c.waiting && (c.memory ?? 0) <= before + 1;
  });
}, 60_000);

/** Tasks the scheduler holds, by state. */
async function counts(): Promise<Record<string, number>> {
  return (await client.schedulerInfo()).tasks;
}

/** Polls a condition the test cannot be told of (a file another process writes). */
async function waitFor(cond: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 50));
}
