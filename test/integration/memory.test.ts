/**
 * Data bigger than memory (issue 20), with real worker processes and a real disk: values spill
 * past the target, come back intact for clients, peers and tasks, a task over its thread's heap
 * cap errs with a code, and a worker over its pause threshold stops taking tasks.
 */
import { createHash } from 'node:crypto';
import { Client, LocalCluster } from '../../src';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A value of `mb` MB whose bytes depend on `seed` (so a wrong or mixed-up value shows). */
function block(seed: number, mb: number): Buffer {
  const b = Buffer.allocUnsafe(mb * 1e6);
  let x = seed * 2654435761;
  for (let i = 0; i < b.length; i += 4) {
    x = (x * 1103515245 + 12345) >>> 0;
    b.writeUInt32LE(x, i);
  }
  return b;
}

interface Memory {
  managed?: number;
  spilled?: number;
  spilledCount?: number;
}

async function memoryOf(client: Client): Promise<Memory[]> {
  const info = await client.schedulerInfo();
  return Object.values(info.workers).map((w) => w as unknown as Memory);
}

describe('a LocalCluster of 2 workers with memoryLimit 256MB', () => {
  let cluster: LocalCluster;
  let client: Client;
  beforeAll(async () => {
    cluster = await LocalCluster.start({ nWorkers: 2, memoryLimit: '256MB' });
    client = await Client.connect(cluster);
  });
  afterAll(async () => {
    await client?.close();
    await cluster?.close();
  });

  test('holds 40 results of 32 MB (5x its memory): all come back intact, spilled, no restart', async () => {
    const pids = cluster.workerPids.slice().sort();
    const make = (seed: number) => {
      const b = Buffer.allocUnsafe(32e6);
      let x = seed * 2654435761;
      for (let i = 0; i < b.length; i += 4) {
        x = (x * 1103515245 + 12345) >>> 0;
        b.writeUInt32LE(x, i);
      }
      return b;
    };
    const futures = client.map(
      make,
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    // One at a time: the client holds one value at once, as a user with little memory would.
    for (let i = 0; i < futures.length; i++) {
      const got = (await futures[i].result()) as Uint8Array;
      expect(sha(got)).toBe(sha(block(i + 1, 32)));
    }
    const mem = await memoryOf(client);
    expect(mem.reduce((a, m) => a + (m.spilledCount ?? 0), 0)).toBeGreaterThan(0);
    expect(cluster.workerPids.slice().sort()).toEqual(pids);
    // Tasks read spilled inputs back (one at a time: all 40 at once would not fit in 256 MB).
    const firsts = await client.gather(
      futures.slice(0, 8).map((f) => client.submit((b: Uint8Array) => b[0] + b[b.length - 1], f)),
    );
    expect(firsts).toEqual(
      futures.slice(0, 8).map((_, i) => {
        const b = block(i + 1, 32);
        return b[0] + b[b.length - 1];
      }),
    );
    for (const f of futures) f.release();
  }, 180_000);

  test('a task that builds 2 GB of JS objects errs ERR_TASK_MEMORY; the worker serves on', async () => {
    const kept = client.submit((n: number) => n * 2, 21);
    await kept.result();
    const big = client.submit(() => {
      const parts: number[][] = [];
      for (let i = 0; i < 2000; i++) parts.push(new Array(125_000).fill(i + 0.5));
      return parts.length;
    });
    const err = (await big.exception()) as { code?: string; remote?: { code?: string } } | null;
    expect(err?.remote?.code ?? err?.code).toBe('ERR_TASK_MEMORY');
    expect(await kept.result()).toBe(42);
    expect(await client.submit((x: number) => x + 1, 1).result()).toBe(2);
  }, 120_000);

  test('a task that allocates a 2 GB buffer: its worker is restarted, the task errs ERR_KILLED_WORKER, data survives', async () => {
    const kept = client.submit((n: number) => n * 3, 14);
    await kept.result();
    const big = client.submit(() => Buffer.alloc(2e9, 1).length);
    const err = (await big.exception()) as { code?: string } | null;
    expect(err?.code).toBe('ERR_KILLED_WORKER');
    // Held on a worker that restarted, or recomputed from lineage.
    expect(await kept.result()).toBe(42);
    expect(await client.submit((x: number) => x + 1, 2).result()).toBe(3);
  }, 120_000);
});
