import { Client, LocalCluster } from '../../src';

test('a worker killed with SIGKILL mid-run: every result still arrives, correct', async () => {
  const cluster = await LocalCluster.start({ nWorkers: 3 });
  const client = await Client.connect(cluster);
  try {
    const n = 300;
    const fs = client.map(
      (x: number) => new Promise<number>((r) => setTimeout(() => r(x * x), 5)),
      Array.from({ length: n }, (_, i) => i),
    );
    // Chained work too, so results held only by the dead worker must be recomputed.
    const sums = fs
      .filter((_, i) => i % 10 === 0)
      .map((f) => client.submit((v: number) => v + 1, f));
    let seen = 0;
    for await (const _ of client.asCompleted(fs)) {
      if (++seen === 30) process.kill(cluster.workerPids[0], 'SIGKILL');
    }
    const results = (await client.gather(fs)) as number[];
    expect(results.every((r, i) => r === i * i)).toBe(true);
    expect(await client.gather(sums)).toEqual(sums.map((_, j) => (j * 10) ** 2 + 1));
    const info = await client.schedulerInfo();
    expect(Object.keys(info.workers)).toHaveLength(2);
  } finally {
    await client.close();
    await cluster.close();
  }
});

test('a worker started mid-run takes tasks at once', async () => {
  const cluster = await LocalCluster.start({ nWorkers: 1 });
  const client = await Client.connect(cluster);
  try {
    const fs = client.map(
      () => new Promise<number>((r) => setTimeout(() => r(process.pid), 30)),
      Array.from({ length: 60 }, (_, i) => i),
    );
    const first = cluster.workerPids[0];
    await cluster.scale(2);
    const second = cluster.workerPids.find((p) => p !== first);
    const pids = (await client.gather(fs)) as number[];
    expect(pids).toContain(second);
    expect(pids.filter((p) => p === second).length).toBeGreaterThan(10);
  } finally {
    await client.close();
    await cluster.close();
  }
});

test('shutdown stops the scheduler and every worker process', async () => {
  const cluster = await LocalCluster.start({ nWorkers: 2 });
  const client = await Client.connect(cluster);
  const pids = cluster.workerPids;
  await client.shutdown();
  await cluster.close();
  for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
});
