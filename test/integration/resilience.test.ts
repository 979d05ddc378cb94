import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startCli } from '../helpers/cluster';
import { Client, LocalCluster } from '../../src';

test('a worker killed with SIGKILL mid-run: every result still arrives, correct; a new one takes its place', async () => {
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
    const killed = cluster.workerPids[0];
    for await (const _ of client.asCompleted(fs)) {
      if (++seen === 30) process.kill(killed, 'SIGKILL');
    }
    const results = (await client.gather(fs)) as number[];
    expect(results.every((r, i) => r === i * i)).toBe(true);
    expect(await client.gather(sums)).toEqual(sums.map((_, j) => (j * 10) ** 2 + 1));
    // LocalCluster restarted it, as a nanny does.
    await client.waitForWorkers(3, 20_000);
    const info = await client.schedulerInfo();
    expect(Object.values(info.workers).map((w) => w.pid)).not.toContain(killed);
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
      (_i: number) => new Promise<number>((r) => setTimeout(() => r(process.pid), 30)),
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

test('a task that kills its thread is tried again, then errs ERR_KILLED_WORKER; the worker serves on', async () => {
  const cluster = await LocalCluster.start({ nWorkers: 1 });
  const client = await Client.connect(cluster);
  try {
    const exits = client.submit(() => process.exit(3));
    await expect(exits.result()).rejects.toMatchObject({
      code: 'ERR_KILLED_WORKER',
      message: expect.stringMatching(/killed the thread running it 3 times.*exit code 3/),
    });
    const throwsLater = client.submit(
      () =>
        new Promise(() =>
          setTimeout(() => {
            throw new Error('thrown from a timer');
          }, 1),
        ),
    );
    await expect(throwsLater.result()).rejects.toMatchObject({ code: 'ERR_KILLED_WORKER' });
    // Tiny tasks travel in batches; only the one that kills its thread errs.
    const fs = client.map(
      (x: number) => (x === 500 ? process.exit(1) : x),
      Array.from({ length: 1000 }, (_, i) => i),
    );
    await client.wait(fs);
    expect(fs.filter((f) => f.status === 'error').map((f) => fs.indexOf(f))).toEqual([500]);
    expect(await client.submit((x: number) => x * 2, 21).result()).toBe(42);
    expect(cluster.workerPids).toHaveLength(1);
  } finally {
    await client.close();
    await cluster.close();
  }
});

test('a client whose scheduler is SIGKILLed fails every pending future with ERR_SCHEDULER_GONE', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpi-cluster-res-'));
  const file = path.join(dir, 'sched.json');
  const sched = startCli('cli/scheduler.js', ['--host', '127.0.0.1', '--scheduler-file', file]);
  try {
    await sched.line(/tcp:\/\/127\.0\.0\.1:\d+/);
    const client = await Client.connect({ schedulerFile: file, schedulerTimeout: 3000 });
    try {
      const pending = client.submit((x: number) => x, 1); // no worker: it stays queued
      await client.schedulerInfo();
      sched.child.kill('SIGKILL');
      await expect(pending.result()).rejects.toMatchObject({ code: 'ERR_SCHEDULER_GONE' });
      await expect(client.schedulerInfo()).rejects.toMatchObject({ code: 'ERR_CLIENT_CLOSED' });
    } finally {
      await client.close();
    }
  } finally {
    sched.child.kill('SIGKILL');
    await sched.exited;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
