import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { Scheduler } from '../../src';
import { sharedCluster } from '../helpers/shared-cluster';

/** /metrics and /health of the scheduler's HTTP server, against a real LocalCluster. */
const shared = sharedCluster({ nWorkers: 2, threadsPerWorker: 2, dashboardAddress: ':0' });

interface Family {
  name: string;
  type: string;
  metrics: { value: string; labels?: Record<string, string> }[];
}

async function scrape(query = ''): Promise<Record<string, Family>> {
  const { url, token } = shared.cluster.scheduler.httpServer!;
  const res = await fetch(`${url}/metrics${query}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(res.status).toBe(200);
  const families = parsePrometheusTextFormat(await res.text()) as Family[];
  return Object.fromEntries(families.map((f) => [f.name, f]));
}

const value = (f: Family, labels: Record<string, string> = {}) =>
  Number(
    f.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value ??
      NaN,
  );

test('metrics in Prometheus text format agree with schedulerInfo()', async () => {
  const xs = Array.from({ length: 100 }, (_, i) => i);
  const fs = shared.client.map(
    (x: number) => new Promise<number>((r) => setTimeout(() => r(x), 5)),
    xs,
  );
  await shared.client.gather(fs);
  const info = await shared.client.schedulerInfo();
  const m = await scrape();
  expect(value(m.mpi_cluster_scheduler_workers)).toBe(Object.keys(info.workers).length);
  expect(value(m.mpi_cluster_scheduler_clients)).toBe(1);
  expect(value(m.mpi_cluster_scheduler_tasks, { state: 'memory' })).toBe(100);
  expect(value(m.mpi_cluster_scheduler_tasks_compute_seconds_total)).toBeGreaterThanOrEqual(
    100 * 0.005,
  );
  for (const w of Object.values(info.workers)) {
    expect(value(m.mpi_cluster_worker_threads, { worker: w.name })).toBe(w.nthreads);
    expect(value(m.mpi_cluster_worker_memory_limit_bytes, { worker: w.name })).toBe(w.memoryLimit);
  }
  const held = m.mpi_cluster_worker_tasks.metrics
    .filter((x) => x.labels?.state === 'memory')
    .reduce((a, x) => a + Number(x.value), 0);
  expect(held).toBe(100);
  const bytes = m.mpi_cluster_worker_memory_bytes.metrics.reduce((a, x) => a + Number(x.value), 0);
  expect(bytes).toBeGreaterThan(0);
  // Memory by type as Dask names them, and whether each worker is paused (issue 20).
  for (const w of Object.values(info.workers)) {
    const types = m.mpi_cluster_worker_memory_bytes.metrics
      .filter((x) => x.labels?.worker === w.name)
      .map((x) => x.labels?.type)
      .sort();
    expect(types).toEqual(['managed', 'spilled', 'unmanaged']);
    expect(value(m.mpi_cluster_worker_paused, { worker: w.name })).toBe(w.paused ? 1 : 0);
  }
  expect(m.mpi_cluster_scheduler_tasks_forgotten_total.type).toBe('COUNTER');
  const before = value(m.mpi_cluster_scheduler_tasks_forgotten_total);
  for (const f of fs) f.release();
  await new Promise<void>((resolve) => {
    const check = () =>
      shared.cluster.scheduler.core.tasks.size === 0 ? resolve() : setTimeout(check, 20);
    check();
  });
  expect(value((await scrape()).mpi_cluster_scheduler_tasks_forgotten_total)).toBe(before + 100);
  expect(
    value((await scrape()).mpi_cluster_scheduler_tick_duration_maximum_seconds),
  ).toBeGreaterThanOrEqual(0);
  // A task over results held on both workers fetches the other's: bytes transferred, reported
  // in the workers' next heartbeats.
  const names = Object.values((await shared.client.schedulerInfo()).workers).map((w) => w.name);
  const parts = [1, 2, 3, 4, 5, 6, 7, 8].map((x) =>
    shared.client.submitWith({ workers: [names[x % 2]] }, (y: number) => y, x),
  );
  const sum = shared.client.submit((v: number[]) => v.reduce((a, b) => a + b, 0), parts);
  expect(await sum.result()).toBe(36);
  const transferred = async () =>
    (await scrape()).mpi_cluster_worker_transfer_incoming_bytes_total.metrics.reduce(
      (a, x) => a + Number(x.value),
      0,
    );
  for (const t = Date.now(); (await transferred()) === 0;) {
    if (Date.now() - t > 10_000) throw new Error('no transfer bytes reported within 10 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const f of [...parts, sum]) f.release();
});

test('/metrics needs the token (in the link or as a bearer); /health does not', async () => {
  const { url, token } = shared.cluster.scheduler.httpServer!;
  expect((await fetch(`${url}/metrics`)).status).toBe(403);
  expect((await fetch(`${url}/metrics?token=${'0'.repeat(token.length)}`)).status).toBe(403);
  expect(
    (await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer nope' } })).status,
  ).toBe(403);
  expect((await fetch(shared.cluster.scheduler.metricsLink!)).status).toBe(200);
  const health = await fetch(`${url}/health`);
  expect([health.status, await health.text()]).toEqual([200, 'ok\n']);
  expect((await fetch(`${url}/metrics`, { method: 'POST' })).status).toBe(405);
  // The client learns the link from the scheduler.
  expect(shared.client.metricsLink).toBe(shared.cluster.scheduler.metricsLink);
});

test('a 403 says where the link with the token is and how to pass the token', async () => {
  const { url } = shared.cluster.scheduler.httpServer!;
  const none = await fetch(`${url}/status`);
  expect(none.status).toBe(403);
  const text = await none.text();
  expect(text).toContain('none was given');
  expect(text).toContain('client.dashboardLink');
  expect(text).toContain('"dashboard" field of the scheduler file');
  expect(text).toContain('?token=<token>');
  expect(text).toContain('Authorization: Bearer <token>');
  // A scrape of /metrics is pointed at the metrics link; a wrong token is told apart.
  const wrong = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer nope' } });
  const scrape = await wrong.text();
  expect(scrape).toContain("the token given is not this scheduler's");
  expect(scrape).toContain('client.metricsLink');
  expect(scrape).toContain('"metrics" field of the scheduler file');
});

test('a taken port: the next free one; false: no server; every interface: refused', async () => {
  const port = Number(new URL(shared.cluster.scheduler.httpServer!.url).port);
  const second = await Scheduler.start({ local: true, dashboardAddress: `127.0.0.1:${port}` });
  try {
    const other = Number(new URL(second.httpServer!.url).port);
    expect(other).not.toBe(port);
    expect((await fetch(`${second.httpServer!.url}/health`)).status).toBe(200);
  } finally {
    await second.close();
  }
  const none = await Scheduler.start({ local: true, dashboardAddress: false });
  expect([none.metricsLink, none.httpServer]).toEqual([null, null]);
  await none.close();
  await expect(
    Scheduler.start({ local: true, dashboardAddress: '0.0.0.0:8787' }),
  ).rejects.toMatchObject({
    code: 'ERR_INVALID_OPTION',
  });
  await expect(Scheduler.start({ local: true, dashboardAddress: 'nonsense' })).rejects.toThrow(
    /':8787'/,
  );
});
