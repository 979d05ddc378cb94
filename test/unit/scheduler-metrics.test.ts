import * as fs from 'node:fs';
import * as path from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { SchedulerCore } from '../../src/scheduler';
import { SchedulerMetrics } from '../../src/observe/metrics';
import { TASK_STATES } from '../../src/scheduler/types';
import { task, worker, type P } from '../helpers/core';

/**
 * The scheduler's /metrics text (issue 24), from a pure core: every task state with 0 included,
 * prom-client's default process and Node.js metrics, per-worker CPU, RSS and event-loop lag from
 * the heartbeats, a build-info series, and the README's metric table naming exactly what is served.
 */
interface Family {
  name: string;
  metrics: { value: string; labels?: Record<string, string> }[];
}

let core: SchedulerCore<P>;
let metrics: SchedulerMetrics;
const stats = new Map([['a', { cpu: 0.75, rss: 123e6, lag: 0.042, transferBytes: 7 }]]);

async function scrape(): Promise<Record<string, Family>> {
  const families = parsePrometheusTextFormat(await metrics.text()) as Family[];
  return Object.fromEntries(families.map((f) => [f.name, f]));
}

beforeEach(() => {
  core = new SchedulerCore<P>({ workerTtl: 60_000, clientTtl: 60_000 });
  core.handle({ type: 'client-join', client: 'c1', now: 0 });
  core.handle([
    { type: 'worker-join', worker: worker('a', 1), now: 0 },
    { type: 'worker-join', worker: worker('b', 1), now: 0 },
  ]);
  metrics = new SchedulerMetrics({ core, workerStats: (id) => stats.get(id) });
});
afterEach(() => metrics.close());

test('every task state is a series, 0 included, and one that falls back to 0 stays', async () => {
  const state = (m: Record<string, Family>, s: string) =>
    m.mpi_cluster_scheduler_tasks.metrics.find((x) => x.labels?.state === s)?.value;
  let m = await scrape();
  for (const s of TASK_STATES) expect([s, state(m, s)]).toEqual([s, '0']);
  core.handle({ type: 'submit', client: 'c1', tasks: [task('t0'), task('t1'), task('t2')] });
  m = await scrape();
  expect(state(m, 'processing')).toBe('2');
  expect(state(m, 'queued')).toBe('1');
  core.handle({ type: 'client-leave', client: 'c1', reason: 'test' });
  m = await scrape();
  for (const s of TASK_STATES) expect([s, state(m, s)]).toEqual([s, '0']);
});

test('per worker: CPU, RSS and event-loop lag from its last heartbeat; none before its first', async () => {
  const m = await scrape();
  const one = (name: string, w: string) =>
    m[name].metrics.filter((x) => x.labels?.worker === w).map((x) => Number(x.value));
  expect(one('mpi_cluster_worker_cpu_ratio', 'name-a')).toEqual([0.75]);
  expect(one('mpi_cluster_worker_rss_bytes', 'name-a')).toEqual([123e6]);
  expect(one('mpi_cluster_worker_event_loop_lag_seconds', 'name-a')).toEqual([0.042]);
  expect(one('mpi_cluster_worker_transfer_incoming_bytes_total', 'name-a')).toEqual([7]);
  expect(one('mpi_cluster_worker_cpu_ratio', 'name-b')).toEqual([]);
});

test('build info and the default process and Node.js metrics are served', async () => {
  const m = await scrape();
  const version = (
    JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  expect(m.mpi_cluster_build_info.metrics[0]).toEqual({
    value: '1',
    labels: { version, node: process.versions.node, protocol: expect.any(String) },
  });
  for (const name of [
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'nodejs_eventloop_lag_seconds',
    'nodejs_heap_size_used_bytes',
    'nodejs_gc_duration_seconds',
  ])
    expect(Object.keys(m)).toContain(name);
});

test("the README's metric table names exactly the mpi_cluster_ metrics /metrics serves", async () => {
  const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
  const table = new Set(
    [...readme.matchAll(/^\| `(mpi_cluster_[a-z_]+)(?:\{[^}]*\})?` \|/gm)].map((x) => x[1]),
  );
  // Counters are named with their _total suffix in both; the parser reports the family name.
  const served = new Set(Object.keys(await scrape()).filter((n) => n.startsWith('mpi_cluster_')));
  expect([...table].sort()).toEqual([...served].sort());
});
