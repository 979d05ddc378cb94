import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Gauge, Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { memoryFigures } from '../scheduler/memory';
import type { WorkerStats } from './dashboard';
import { PROTOCOL_VERSION } from '../protocol/messages';
import { packageVersion } from '../util/version';
import { TASK_STATES, type WorkerState } from '../scheduler/types';

/**
 * The scheduler's Prometheus metrics, read from its state when scraped (nothing is counted on
 * the hot path but two totals in the core). Names follow Dask's (`dask_scheduler_workers` is
 * `mpi_cluster_scheduler_workers`), so Grafana boards made for Dask adapt by the prefix.
 */
export interface MetricsSource {
  /** What each worker's last heartbeat said (CPU, RSS, event-loop lag, bytes fetched). */
  workerStats(id: string): WorkerStats | undefined;
  core: {
    workers: ReadonlyMap<string, WorkerState>;
    clients: ReadonlyMap<string, unknown>;
    counts(): Record<string, number>;
    totals: { forgotten: number; computeSeconds: number };
  };
}

const PREFIX = 'mpi_cluster_';

export class SchedulerMetrics {
  readonly registry = new Registry();
  private readonly loop: IntervalHistogram;

  constructor(source: MetricsSource) {
    const r = this.registry;
    const core = () => source.core;
    // prom-client's process and Node.js metrics (CPU, memory, heap, GC, event-loop lag, handles)
    // of the scheduler's process, under their usual names (process_*, nodejs_*).
    collectDefaultMetrics({ register: r });
    new Gauge({
      name: `${PREFIX}build_info`,
      help: 'Always 1; the labels say which mpi-cluster, Node.js and protocol the scheduler runs',
      labelNames: ['version', 'node', 'protocol'],
      registers: [r],
    }).set(
      {
        version: packageVersion(),
        node: process.versions.node,
        protocol: String(PROTOCOL_VERSION),
      },
      1,
    );
    this.loop = monitorEventLoopDelay({ resolution: 10 });
    this.loop.enable();
    const loop = this.loop;
    new Gauge({
      name: `${PREFIX}scheduler_workers`,
      help: 'Workers connected to the scheduler',
      registers: [r],
      collect() {
        this.set(core().workers.size);
      },
    });
    new Gauge({
      name: `${PREFIX}scheduler_clients`,
      help: 'Clients connected to the scheduler',
      registers: [r],
      collect() {
        this.set(core().clients.size);
      },
    });
    new Gauge({
      name: `${PREFIX}scheduler_tasks`,
      help: 'Tasks known to the scheduler, by state',
      labelNames: ['state'],
      registers: [r],
      collect() {
        this.reset();
        // Every state, 0 included: a series that drops out when it reaches 0 reads as "no data".
        const counts = core().counts();
        for (const state of TASK_STATES) this.set({ state }, counts[state] ?? 0);
        for (const [state, n] of Object.entries(counts)) {
          if (!(TASK_STATES as readonly string[]).includes(state)) this.set({ state }, n);
        }
      },
    });
    new Counter({
      name: `${PREFIX}scheduler_tasks_forgotten_total`,
      help: 'Tasks forgotten by the scheduler since it started',
      registers: [r],
      collect() {
        this.reset();
        this.inc(core().totals.forgotten);
      },
    });
    new Counter({
      name: `${PREFIX}scheduler_tasks_compute_seconds_total`,
      help: 'Seconds workers spent computing tasks (finished or erred) since the scheduler started',
      registers: [r],
      collect() {
        this.reset();
        this.inc(core().totals.computeSeconds);
      },
    });
    new Gauge({
      name: `${PREFIX}scheduler_tick_duration_maximum_seconds`,
      help: "Longest event-loop delay of the scheduler's process since the last scrape",
      registers: [r],
      collect() {
        this.set(loop.max / 1e9);
        loop.reset();
      },
    });
    new Gauge({
      name: `${PREFIX}worker_memory_bytes`,
      help: "Each worker's memory, by type as Dask names them: managed (stored values in memory), unmanaged (the rest of its process's memory), spilled (stored values on disk)",
      labelNames: ['worker', 'type'],
      registers: [r],
      collect() {
        this.reset();
        for (const w of core().workers.values()) {
          const m = memoryFigures(w);
          this.set({ worker: w.info.name, type: 'managed' }, m.managed);
          this.set({ worker: w.info.name, type: 'unmanaged' }, m.unmanaged);
          this.set({ worker: w.info.name, type: 'spilled' }, m.spilled);
        }
      },
    });
    new Gauge({
      name: `${PREFIX}worker_paused`,
      help: 'Whether each worker is paused (1: above its pause threshold, it is given no task)',
      labelNames: ['worker'],
      registers: [r],
      collect() {
        this.reset();
        for (const w of core().workers.values())
          this.set({ worker: w.info.name }, w.memory.paused ? 1 : 0);
      },
    });
    new Gauge({
      name: `${PREFIX}worker_memory_limit_bytes`,
      help: "Each worker's memory limit",
      labelNames: ['worker'],
      registers: [r],
      collect() {
        this.reset();
        for (const w of core().workers.values())
          this.set({ worker: w.info.name }, w.info.memoryLimit);
      },
    });
    new Gauge({
      name: `${PREFIX}worker_tasks`,
      help: 'Tasks on each worker, by state (processing: sent to it and not finished; memory: results it holds)',
      labelNames: ['worker', 'state'],
      registers: [r],
      collect() {
        this.reset();
        for (const w of core().workers.values()) {
          this.set({ worker: w.info.name, state: 'processing' }, w.processing.size);
          this.set({ worker: w.info.name, state: 'memory' }, w.has.size);
        }
      },
    });
    new Counter({
      name: `${PREFIX}worker_transfer_incoming_bytes_total`,
      help: 'Bytes each worker fetched from other workers since it started',
      labelNames: ['worker'],
      registers: [r],
      collect() {
        this.reset();
        for (const w of core().workers.values()) {
          this.inc({ worker: w.info.name }, source.workerStats(w.id)?.transferBytes ?? 0);
        }
      },
    });
    const perWorker = (name: string, help: string, read: (s: WorkerStats) => number) =>
      new Gauge({
        name: `${PREFIX}worker_${name}`,
        help,
        labelNames: ['worker'],
        registers: [r],
        collect() {
          this.reset();
          for (const w of core().workers.values()) {
            const s = source.workerStats(w.id);
            if (s) this.set({ worker: w.info.name }, read(s));
          }
        },
      });
    perWorker(
      'cpu_ratio',
      "Each worker process's CPU use since its previous heartbeat, in cores (1: one core busy)",
      (s) => s.cpu,
    );
    perWorker('rss_bytes', "Each worker process's resident memory", (s) => s.rss);
    perWorker(
      'event_loop_lag_seconds',
      "Longest event-loop delay of each worker's main thread between two heartbeats",
      (s) => s.lag,
    );
    new Gauge({
      name: `${PREFIX}worker_threads`,
      help: 'Threads (tasks at once) of each worker',
      labelNames: ['worker'],
      registers: [r],
      collect() {
        this.reset();
        for (const w of core().workers.values()) this.set({ worker: w.info.name }, w.info.nthreads);
      },
    });
  }

  /** The text format Prometheus scrapes. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    this.loop.disable();
  }
}
