/**
 * KilledWorker (ERR_KILLED_WORKER) is for tasks that were running when their worker died, not
 * for those queued behind them: workers killed again and again while short tasks are pipelined
 * to them cost reruns, never a failed future.
 */
import { Client } from '../../src';
import { Scheduler } from '../../src/scheduler';
import { KEYS_ENV } from '../../src/net/security';
import { startCli, type Started } from '../helpers/cluster';

/** Worker CLIs restarted as a nanny restarts them: a death is reported at once, then replaced. */
class Nanny {
  readonly slots: (Started | null)[];
  private closing = false;

  constructor(
    private readonly scheduler: Scheduler,
    n: number,
  ) {
    this.slots = Array.from({ length: n }, () => null);
    for (let i = 0; i < n; i++) this.start(i);
  }

  private start(i: number): void {
    const w = startCli(
      'cli/worker.js',
      [this.scheduler.address, '--host', '127.0.0.1', '--nthreads', '1', '--name', `w${i}`],
      { [KEYS_ENV]: JSON.stringify(this.scheduler.keys), MPI_CLUSTER_LOG: 'error' },
    );
    this.slots[i] = w;
    void w.exited.then(() => {
      if (this.closing) return;
      this.scheduler.workerExited(w.child.pid!, 'killed by the test');
      this.start(i);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    const live = this.slots.filter((s): s is Started => s !== null);
    for (const s of live) s.child.kill('SIGKILL');
    await Promise.all(live.map((s) => s.exited));
  }
}

test('20 worker SIGKILLs during a 2,000-task graph of 5-15 ms tasks: every result right, no ERR_KILLED_WORKER', async () => {
  const scheduler = await Scheduler.start({ local: true, dashboardAddress: false });
  const nanny = new Nanny(scheduler, 4);
  const client = await Client.connect(scheduler.address);
  try {
    await client.waitForWorkers(4, 30_000);
    const sleepThen = (x: number, ms: number) =>
      new Promise<number>((r) => setTimeout(() => r(x * x), ms));
    const n = 1500;
    const squares = client.map(
      sleepThen,
      Array.from({ length: n }, (_, i) => i),
      Array.from({ length: n }, (_, i) => 5 + ((i * 7) % 11)),
    );
    // 500 dependents: results lost with a killed worker are computed again for them.
    const plusOne = squares
      .slice(0, 500)
      .map((f, i) =>
        client.submit(
          (v: number, ms: number) => new Promise<number>((r) => setTimeout(() => r(v + 1), ms)),
          f,
          5 + ((i * 3) % 11),
        ),
      );
    const all = [...squares, ...plusOne];
    let seen = 0;
    let kills = 0;
    let killedBusy = 0;
    for await (const _ of client.asCompleted(all)) {
      seen += 1;
      // A kill every 100 results (at 50, 150, ..., 1950), of a registered worker with tasks.
      if (seen % 100 !== 50) continue;
      const pids = new Map(
        [...scheduler.core.workers.values()].map((w) => [w.info.pid, w.processing.size]),
      );
      const slot = nanny.slots.find((s) => s && pids.has(s.child.pid!));
      if (!slot) continue;
      if (pids.get(slot.child.pid!)! > 0) killedBusy += 1;
      slot.child.kill('SIGKILL');
      kills += 1;
    }
    expect(kills).toBe(20);
    // Most kills hit a worker with tasks running and queued.
    expect(killedBusy).toBeGreaterThanOrEqual(15);
    const results = (await client.gather(all)) as number[];
    expect(results).toEqual([
      ...Array.from({ length: n }, (_, i) => i * i),
      ...Array.from({ length: 500 }, (_, i) => i * i + 1),
    ]);
    expect(all.filter((f) => f.status === 'error')).toEqual([]);
  } finally {
    await client.close();
    await nanny.close();
    await scheduler.close();
  }
}, 90_000);
