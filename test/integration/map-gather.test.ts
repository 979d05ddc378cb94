import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, LocalCluster, type Future } from '../../src';

let cluster: LocalCluster;
let client: Client;

beforeAll(async () => {
  cluster = await LocalCluster.start({ nWorkers: 3 });
  client = await Client.connect(cluster);
});
afterAll(async () => {
  await client.close();
  await cluster.close();
});

test('a map of 10,000 tasks gathers every result, in order', async () => {
  const n = 10_000;
  const futures = client.map(
    (x: number) => x * 2 + 1,
    Array.from({ length: n }, (_, i) => i),
  );
  const results = (await client.gather(futures)) as number[];
  expect(results).toHaveLength(n);
  expect(results.every((r, i) => r === i * 2 + 1)).toBe(true);
});

test('several iterables are zipped, stopping at the shortest', async () => {
  const fs = client.map((a: number, b: string) => `${a}${b}`, [1, 2, 3], ['a', 'b']);
  expect(await client.gather(fs)).toEqual(['1a', '2b']);
});

test('gather keeps nested arrays and objects, with plain values passed through', async () => {
  const f = client.submit((x: number) => x + 1, 1);
  const g = client.submit(async (x: number) => x * 10, 2);
  expect(await client.gather({ a: [f, { g }], plain: 7 })).toEqual({ a: [2, { g: 20 }], plain: 7 });
});

test('a dependency chain of 50 tasks runs in order', async () => {
  let f: Future<number> = client.submit((x: number) => x, 0);
  for (let i = 0; i < 50; i++) f = client.submit((x: number) => x + 1, f);
  expect(await f.result()).toBe(50);
});

test('a diamond: futures inside arrays and objects are dependencies', async () => {
  const a = client.submit((x: number) => x, 3);
  const l = client.submit((x: number) => x + 1, a);
  const r = client.submit((x: number) => x * 2, a);
  const z = client.submit((p: { parts: number[] }) => p.parts[0] * p.parts[1], { parts: [l, r] });
  expect(await z.result()).toBe(24);
});

test('binary results keep their type and bytes', async () => {
  const f = client.submit((n: number) => new Float64Array(n).fill(0.5), 100_000);
  const arr = (await f.result()) as Float64Array;
  expect(arr).toBeInstanceOf(Float64Array);
  expect(arr.length).toBe(100_000);
  expect(arr[99_999]).toBe(0.5);
  const b = client.submit((buf: Buffer) => buf.length, Buffer.alloc(1 << 20, 1));
  expect(await b.result()).toBe(1 << 20);
});

test('scatter places data once; broadcast places a copy on every worker', async () => {
  const big = Buffer.alloc(1 << 20, 7);
  const [d] = await client.scatter([big]);
  const sum = client.submit((b: Buffer) => b.reduce((s, x) => s + x, 0), d);
  expect(await sum.result()).toBe(7 << 20);
  expect((await client.whoHas([d]))[d.key]).toHaveLength(1);
  const shared = await client.scatter({ factor: 3 }, { broadcast: true });
  // This key's own holders: every worker (earlier tests' data elsewhere cannot make this pass).
  const info = await client.schedulerInfo();
  const addresses = Object.values(info.workers).map((w) => w.address);
  expect(addresses.length).toBeGreaterThan(1);
  expect((await client.whoHas([shared]))[shared.key].sort()).toEqual(addresses.sort());
  const fs = client.map(
    (x: number, s: { factor: number }) => x * s.factor,
    [1, 2, 3],
    [shared, shared, shared],
  );
  expect(await client.gather(fs)).toEqual([3, 6, 9]);
});

test('wait with FIRST_COMPLETED returns early; asCompleted yields every future once', async () => {
  const fast = client.submit(() => 'fast');
  const slow = client.submit(() => new Promise((r) => setTimeout(() => r('slow'), 1500)));
  const { done, notDone } = await client.wait([fast, slow], { returnWhen: 'FIRST_COMPLETED' });
  expect([...done]).toContain(fast);
  expect([...notDone]).toContain(slow);
  const seen: string[] = [];
  for await (const f of client.asCompleted([slow, fast])) seen.push((await f.result()) as string);
  expect(seen.sort()).toEqual(['fast', 'slow']);
});

test('wait with a timeout rejects with ERR_TIMEOUT', async () => {
  const slow = client.submit(() => new Promise((r) => setTimeout(r, 3000)));
  await expect(client.wait([slow], { timeout: 100 })).rejects.toMatchObject({
    code: 'ERR_TIMEOUT',
  });
  await slow.cancel();
});

test('cancel ends a running task: its future and its dependents say ERR_CANCELLED', async () => {
  const marker = path.join(os.tmpdir(), `mpi-cluster-cancel-${process.pid}`);
  const slow = client.submit((m: string) => {
    require('node:fs').writeFileSync(m, 'running');
    return new Promise((r) => setTimeout(r, 60_000));
  }, marker);
  const dep = client.submit((x: unknown) => x, slow);
  // Cancelled while it runs, not before it started.
  while (!fs.existsSync(marker)) await new Promise((r) => setTimeout(r, 20));
  fs.rmSync(marker);
  await slow.cancel();
  expect(slow.status).toBe('cancelled');
  await expect(dep.result()).rejects.toMatchObject({ code: 'ERR_CANCELLED' });
});

test('pure tasks with equal arguments share one key; per-task options are checked', async () => {
  const a = client.submitWith({ pure: true }, (x: number) => x + 100, 1);
  const b = client.submitWith({ pure: true }, (x: number) => x + 100, 1);
  expect(a.key).toBe(b.key);
  expect(await b.result()).toBe(101);
  const k = client.submitWith({ key: 'my-key', priority: 10 }, () => 'k');
  expect(k.key).toBe('my-key');
  expect(() => client.submitWith({ retries: -2 }, () => 1)).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
  );
});

test('schedulerInfo lists every worker with its name, host, threads and memory limit', async () => {
  const info = await client.schedulerInfo();
  expect(info.address).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
  const ws = Object.values(info.workers);
  expect(ws).toHaveLength(3);
  for (const w of ws) {
    expect(w).toMatchObject({
      nthreads: 1,
      host: expect.any(String),
      name: expect.stringMatching(/^local-\d$/),
    });
    expect(w.memoryLimit).toBeGreaterThan(0);
    expect(w.lastSeen).toBeGreaterThan(0);
  }
});

test('cyclic and shared values travel as structured clone keeps them, both ways', async () => {
  const node: { buf: Buffer; self?: unknown } = { buf: Buffer.alloc(100_000, 3) };
  node.self = node;
  const same = client.submit((v: typeof node) => v.self === v && v.buf.length, node);
  expect(await same.result()).toBe(100_000);
  const back = client.submit(() => {
    const shared = { data: new Float32Array(50_000) };
    const a: { pair: unknown[]; self?: unknown } = { pair: [shared, shared] };
    a.self = a;
    return a;
  });
  const out = (await back.result()) as { pair: unknown[]; self: unknown };
  expect(out.self).toBe(out);
  expect(out.pair[1]).toBe(out.pair[0]);
});

test('a task submitted right after a map can depend on its futures before their submits went out', async () => {
  const fs = client.map(
    (x: number) => x + 1,
    Array.from({ length: 5_000 }, (_, i) => i),
  );
  const total = client.submit((...xs: number[]) => xs.reduce((s, x) => s + x, 0), ...fs.slice(-3));
  expect(await total.result()).toBe(4998 + 4999 + 5000);
  fs[0].release(); // released, possibly before its submit left: the scheduler lets it go
  expect((await client.gather(fs.slice(1, 4))) as number[]).toEqual([2, 3, 4]);
});

test('map takes generators and object arguments too (packed at once, as submit does)', async () => {
  function* gen() {
    for (let i = 0; i < 4; i++) yield { v: i };
  }
  const fs = client.map((o: { v: number }, s: string) => `${s}${o.v}`, gen(), ['a', 'b', 'c']);
  expect(await client.gather(fs)).toEqual(['a0', 'b1', 'c2']);
  const scalars = client.map((x: bigint | null) => String(x), new Set([1n, null]));
  expect(await client.gather(scalars)).toEqual(['1', 'null']);
});
