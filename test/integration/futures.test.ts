import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Client, LocalCluster } from '../../src';
import { ROOT } from '../helpers/cluster';

test('await submit(f).result() settles with garbage collection forced while the task runs', () => {
  const r = spawnSync(
    process.execPath,
    ['--expose-gc', path.join(ROOT, 'test/fixtures/gc-result.js')],
    {
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  expect(r.stderr).toBe('');
  expect(r.stdout.trim()).toBe('[0,1,2,3,4]');
  expect(r.status).toBe(0);
});

test('an idle client reads its notices: futures nobody awaits turn finished, nothing piles up', async () => {
  const cluster = await LocalCluster.start({ nWorkers: 2 });
  const client = await Client.connect(cluster);
  try {
    const fs = client.map(
      (x: number) => x + 1,
      Array.from({ length: 20_000 }, (_, i) => i),
    );
    // Nothing here awaits the client: only its idle reads can move these futures on.
    const deadline = Date.now() + 60_000;
    while (!fs.every((f) => f.status === 'finished') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(fs.filter((f) => f.status !== 'finished')).toHaveLength(0);
    const outbox = (cluster.scheduler as unknown as { outbox: { backlog: number } }).outbox;
    expect(outbox.backlog).toBe(0);
    expect(await fs[19_999].result()).toBe(20_000);
  } finally {
    await client.close();
    await cluster.close();
  }
});

test('releasing a future that is awaited rejects the wait with ERR_CANCELLED', async () => {
  const client = await Client.connect({ local: { nWorkers: 1 } });
  try {
    const f = client.submit(() => new Promise<number>((r) => setTimeout(() => r(1), 2000)));
    const waiting = f.result();
    f.release();
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_CANCELLED' });
  } finally {
    await client.close();
  }
});
