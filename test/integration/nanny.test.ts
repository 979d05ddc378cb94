/**
 * mpi-cluster-worker --nanny (issue 20): a worker process that goes over its terminate memory
 * threshold is started anew by the command, which stays; the task that did it errs
 * ERR_KILLED_WORKER after 3 deaths; the new worker serves.
 */
import { Client } from '../../src';
import { startCli, startPlainScheduler, type Started } from '../helpers/cluster';

const procs: Started[] = [];
afterAll(async () => {
  for (const p of procs) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
});

test('a worker over its terminate threshold is restarted by its nanny; the command stays', async () => {
  const { sched, address } = await startPlainScheduler();
  procs.push(sched);
  const nanny = startCli('cli/worker.js', [
    address,
    '--no-security',
    '--nanny',
    '--memory-limit',
    '400MB',
    '--name',
    'n',
  ]);
  procs.push(nanny);
  const client = await Client.connect({ address, security: false });
  try {
    await client.waitForWorkers(1, { timeout: 20_000 }).catch((err: Error) => {
      throw new Error(`${err.message}; the nanny said:\n${nanny.output()}`);
    });
    const pidOf = async () => Object.values((await client.schedulerInfo()).workers)[0]?.pid;
    const first = await pidOf();
    expect(first).not.toBe(nanny.child.pid);
    const big = client.submit(() => {
      const b = Buffer.alloc(1e9, 1);
      return new Promise((r) => setTimeout(() => r(b.length), 5000));
    });
    const err = (await big.exception()) as { code?: string } | null;
    expect(err?.code).toBe('ERR_KILLED_WORKER');
    await nanny.line(
      /nanny: the worker went over its memory terminate threshold; starting another/,
    );
    await client.waitForWorkers(1, { timeout: 20_000 });
    expect(await client.submit((x: number) => x * 2, 21).result()).toBe(42);
    const now = await pidOf();
    expect(now).not.toBe(first);
    expect(nanny.child.exitCode).toBeNull();
  } finally {
    await client.shutdown();
  }
  expect(await nanny.exited).toBe(0);
}, 120_000);
