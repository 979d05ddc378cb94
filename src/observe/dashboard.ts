import type * as http from 'node:http';
import type { WorkerState } from '../scheduler/types';
import { keyPrefix } from '../util/key-prefix';
import type { ProfileTree } from '../worker/profile';
import {
  WorkerHistories,
  graphView,
  workerRow,
  workerView,
  workersView,
  type ViewSource,
} from './views';

/**
 * What the dashboard page shows, aggregated here: the page gets one snapshot a second over
 * server-sent events, whatever the task rate (at most MAX_BARS new task-stream bars each; the
 * rest counted), so a million tasks in flight cost it no more than ten.
 */
export interface DashboardSource {
  core: ViewSource['core'] & {
    workers: ReadonlyMap<string, WorkerState>;
    clients: ReadonlyMap<string, unknown>;
    byPrefix: ReadonlyMap<string, Record<string, number>>;
    counts(): Record<string, number>;
    totals: { forgotten: number; computeSeconds: number };
  };
  /** What a worker last reported in its heartbeat. */
  workerStats(id: string): WorkerStats | undefined;
  /** Profiles every worker's executor threads for `ms` (the /profile page). */
  profile?(ms: number): Promise<ProfileTree>;
  /** /info's facts (versions, addresses) and options (no keys), if the scheduler gives them. */
  info?(): { facts: Record<string, string | number>; options: object };
}

export interface WorkerStats {
  /** Fraction of one core since its previous heartbeat. */
  cpu: number;
  /** Resident memory (bytes). */
  rss: number;
  /** Longest event-loop delay of its main thread since its previous heartbeat (s). */
  lag: number;
  /** Bytes fetched from other workers since it started. */
  transferBytes: number;
}

/**
 * One task's run on a worker thread, or one fetch of data from another worker (lane -1, prefix
 * 'transfer'), for the task stream (times in ms since the epoch).
 */
export interface Bar {
  worker: string;
  lane: number;
  prefix: string;
  /** The task's key (cut to KEY_CHARS), for the stream's hover; absent on transfers. */
  key?: string;
  start: number;
  end: number;
  erred: boolean;
  bytes?: number;
}

const KEY_CHARS = 120;

const PUSH_MS = 1000;
const MAX_BARS = 2000;
const MAX_EVENTS = 50;
const HISTORY = 300;

export class Dashboard {
  private bars: Bar[] = [];
  private barsDropped = 0;
  private readonly events: { at: number; text: string }[] = [];
  private readonly lanes = new Map<string, number[]>();
  private readonly history: { at: number; done: number; memory: number }[] = [];
  private doneSince = 0;
  private readonly subscribers = new Set<http.ServerResponse>();
  private readonly timer: NodeJS.Timeout;
  private readonly histories = new WorkerHistories();

  constructor(private readonly source: DashboardSource) {
    this.timer = setInterval(() => this.push(), PUSH_MS);
    this.timer.unref();
  }

  /** A task finished or erred on `worker` after `seconds` of computing. */
  taskDone(worker: string, key: string, seconds: number, erred: boolean, now = Date.now()): void {
    this.doneSince += 1;
    if (this.bars.length >= MAX_BARS) {
      this.barsDropped += 1;
      return;
    }
    const w = this.source.core.workers.get(worker);
    const start = now - Math.max(0, seconds) * 1000;
    // The lane (thread row) free earliest: the scheduler does not know which thread ran it.
    const ends = this.lanes.get(worker) ?? new Array<number>(w?.info.nthreads ?? 1).fill(0);
    this.lanes.set(worker, ends);
    let lane = 0;
    for (let i = 1; i < ends.length; i++) if (ends[i] < ends[lane]) lane = i;
    for (let i = 0; i < ends.length; i++) {
      if (ends[i] <= start) {
        lane = i;
        break;
      }
    }
    ends[lane] = now;
    this.bars.push({
      worker: w?.info.name ?? worker,
      lane,
      prefix: keyPrefix(key),
      key: key.length > KEY_CHARS ? key.slice(0, KEY_CHARS) + '...' : key,
      start,
      end: now,
      erred,
    });
  }

  /** Fetches a worker reported: start, end and bytes of each, flat. */
  transfers(worker: string, flat: readonly number[]): void {
    const name = this.source.core.workers.get(worker)?.info.name ?? worker;
    for (let i = 0; i + 2 < flat.length; i += 3) {
      if (this.bars.length >= MAX_BARS) {
        this.barsDropped += 1;
        continue;
      }
      const [start, end, bytes] = [flat[i], flat[i + 1], flat[i + 2]];
      if (!(end >= start)) continue;
      this.bars.push({
        worker: name,
        lane: -1,
        prefix: 'transfer',
        start,
        end,
        erred: false,
        bytes,
      });
    }
  }

  /** A line for "last events": workers and clients joining and leaving, errors. */
  event(text: string, now = Date.now()): void {
    this.events.push({ at: now, text });
    if (this.events.length > MAX_EVENTS) this.events.shift();
  }

  workerGone(id: string): void {
    this.lanes.delete(id);
  }

  /** What one push carries. */
  snapshot(now = Date.now()): object {
    const core = this.source.core;
    const states = core.counts();
    const progress = [...core.byPrefix].map(([prefix, c]) => ({ prefix, ...c }));
    const workers = [...core.workers.values()].map((w) => {
      const st = this.source.workerStats(w.id);
      const row = workerRow(w, st);
      return {
        ...row,
        /** What it offers, e.g. { GPU: 1 } (a GPU worker). */
        resources: w.info.resources ?? {},
        memory: w.nbytes,
        processing: row.running,
        retiring: w.retiring,
        transferBytes: st?.transferBytes ?? 0,
      };
    });
    const memory = workers.reduce((a, w) => a + w.memory, 0);
    this.history.push({ at: now, done: this.doneSince, memory });
    if (this.history.length > HISTORY) this.history.shift();
    this.doneSince = 0;
    const bars = this.bars;
    const dropped = this.barsDropped;
    this.bars = [];
    this.barsDropped = 0;
    return {
      at: now,
      clients: core.clients.size,
      states,
      forgotten: core.totals.forgotten,
      computeSeconds: core.totals.computeSeconds,
      progress,
      workers,
      bars,
      barsDropped: dropped,
      events: this.events.slice(-20),
      history: this.history.slice(-1),
    };
  }

  /** Server-sent events: one snapshot now, then one a second. */
  subscribe(res: http.ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    res.write(`retry: 2000\n\n`);
    this.subscribers.add(res);
    res.on('close', () => this.subscribers.delete(res));
    this.push();
  }

  /**
   * The JSON behind /workers, /worker (`id`), /graph and /info; undefined for another name,
   * null for a worker that is not there.
   */
  view(name: string, params: URLSearchParams): object | null | undefined | Promise<object> {
    switch (name) {
      case 'profile': {
        const seconds = Number(params.get('seconds') ?? '2');
        const ms = Math.round(
          1000 * Math.min(Math.max(Number.isFinite(seconds) ? seconds : 2, 0.1), 30),
        );
        return this.source.profile
          ? this.source.profile(ms).then((tree) => ({ ms, tree }))
          : { ms, tree: { n: 'all', s: 0, c: [] } };
      }
      case 'workers':
        return workersView(this.source);
      case 'worker':
        return workerView(this.source, this.histories, params.get('id') ?? '');
      case 'graph':
        return graphView(this.source);
      case 'info': {
        const given = this.source.info?.() ?? { facts: {}, options: {} };
        return { ...given, events: this.events.slice() };
      }
      default:
        return undefined;
    }
  }

  private push(): void {
    this.histories.sample(this.source);
    if (this.subscribers.size === 0) {
      // Nobody looks: keep only the counts going, not the bars.
      this.bars = [];
      return;
    }
    const data = `data: ${JSON.stringify(this.snapshot())}\n\n`;
    for (const res of this.subscribers) res.write(data);
  }

  close(): void {
    clearInterval(this.timer);
    for (const res of this.subscribers) res.end();
    this.subscribers.clear();
  }
}
