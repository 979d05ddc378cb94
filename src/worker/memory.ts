/**
 * The worker's memory manager (issue 20): pure bookkeeping and decisions, no I/O. The driver
 * (worker.ts) tells it what is stored, read, released and spilled, and asks it, with the
 * process's resident memory, what to do: which values to spill, whether to pause, whether the
 * process is over its terminate threshold. Thresholds are Dask's, fractions of memoryLimit:
 * - target 0.60: stored values (managed memory) above it spill, least recently used first;
 * - spill 0.70: process memory above it spills until the estimate is under target;
 * - pause 0.80: process memory above it pauses the worker (no new task starts; data is still
 *   served), which resumes below it;
 * - terminate 0.95: process memory above it ends the process (a nanny restarts it) or, where
 *   nothing can restart it (an MPI rank), evicts everything and recycles the task threads.
 * Each may be false (off); memoryLimit 0 turns all of them off.
 */
import { OptionError } from '../errors';

export interface MemoryThresholds {
  target: number | false;
  spill: number | false;
  pause: number | false;
  terminate: number | false;
}

export const MEMORY_DEFAULTS: Readonly<MemoryThresholds> = Object.freeze({
  target: 0.6,
  spill: 0.7,
  pause: 0.8,
  terminate: 0.95,
});

export const THRESHOLD_NAMES = ['target', 'spill', 'pause', 'terminate'] as const;

/** Checks thresholds given by a user (fractions in (0, 1], or false) and fills the defaults. */
export function resolveThresholds(
  given: Partial<Record<keyof MemoryThresholds, number | false | string>> = {},
): MemoryThresholds {
  const out = { ...MEMORY_DEFAULTS };
  for (const name of THRESHOLD_NAMES) {
    const v = given[name];
    if (v === undefined) continue;
    if (v === false || v === 'false' || v === 'off') {
      out[name] = false;
      continue;
    }
    const n = typeof v === 'string' ? Number(v) : v;
    if (typeof n !== 'number' || !(n > 0 && n <= 1)) {
      throw new OptionError(
        `memory ${name} threshold must be a fraction of memoryLimit in (0, 1] or false, got ${JSON.stringify(v)}`,
      );
    }
    out[name] = n;
  }
  return out;
}

/** The worker CLI's flags for thresholds given (LocalCluster and job scripts start workers so). */
export function thresholdFlags(
  given: Partial<Record<keyof MemoryThresholds, number | false>> = {},
): string[] {
  const out: string[] = [];
  for (const name of THRESHOLD_NAMES) {
    const v = given[name];
    if (v !== undefined) out.push(`--memory-${name}`, String(v));
  }
  return out;
}

/** What the driver does after a check. */
export interface MemoryDecision {
  /** Values to write to disk, least recently used first. */
  spill: string[];
  /** Whether the worker should be paused now (it may already be). */
  paused: boolean;
  /** Process memory is above terminate. */
  terminate: boolean;
  /** Why, for the log, when something changed. */
  why: string;
}

interface Entry {
  nbytes: number;
  /** 'memory': held; 'writing': being spilled (still in memory); 'disk': spilled. */
  where: 'memory' | 'writing' | 'disk';
}

export class MemoryManager {
  /** Insertion order is recency: a touched key moves to the end. */
  private readonly entries = new Map<string, Entry>();
  /** Bytes of values in memory (including those being written). */
  managed = 0;
  spilledBytes = 0;
  spilledCount = 0;
  private paused = false;
  /** A failed spill write pauses until a write succeeds again (the disk may be full). */
  private diskFailing = false;

  constructor(
    readonly limit: number,
    readonly thresholds: MemoryThresholds,
  ) {}

  /** Off entirely: no limit. */
  get enabled(): boolean {
    return this.limit > 0;
  }

  stored(key: string, nbytes: number): void {
    this.released(key);
    this.entries.set(key, { nbytes, where: 'memory' });
    this.managed += nbytes;
  }

  /** A value was used (a task's input, served to a peer): most recently used now. */
  touched(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.entries.set(key, e);
  }

  released(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    if (e.where === 'disk') {
      this.spilledBytes -= e.nbytes;
      this.spilledCount -= 1;
    } else this.managed -= e.nbytes;
  }

  /** The write of `key` finished: it no longer counts as memory. */
  spilled(key: string): void {
    const e = this.entries.get(key);
    this.diskFailing = false;
    if (!e || e.where !== 'writing') return;
    e.where = 'disk';
    this.managed -= e.nbytes;
    this.spilledBytes += e.nbytes;
    this.spilledCount += 1;
  }

  /**
   * The write of `key` did not happen: it stays in memory. `failed`: the write failed (the disk
   * may be full), and the worker pauses until one succeeds; else it was skipped (freed meanwhile).
   */
  spillFailed(key: string, failed: boolean): void {
    const e = this.entries.get(key);
    if (e && e.where === 'writing') e.where = 'memory';
    if (failed) this.diskFailing = true;
  }

  /** A spilled value was read back into memory (its file is gone). */
  unspilled(key: string): void {
    const e = this.entries.get(key);
    if (!e || e.where !== 'disk') return;
    this.entries.delete(key);
    this.entries.set(key, { nbytes: e.nbytes, where: 'memory' });
    this.spilledBytes -= e.nbytes;
    this.spilledCount -= 1;
    this.managed += e.nbytes;
  }

  isSpilled(key: string): boolean {
    return this.entries.get(key)?.where === 'disk';
  }

  /** After a failed write, whether to try spilling again (a test of the disk). */
  get failing(): boolean {
    return this.diskFailing;
  }

  /** Whether process memory `rss` (bytes) is above threshold `name` (never, when it is off). */
  over(name: 'spill' | 'pause' | 'terminate', rss: number): boolean {
    const f = this.thresholds[name];
    return this.enabled && f !== false && rss > f * this.limit;
  }

  /**
   * The decision for process memory `rss` (bytes). `evict` asks for every value in memory (the
   * terminate threshold under MPI, where nothing restarts the process); after a failed write,
   * nothing spills until `retry` (the driver's timer) says to try the disk again.
   */
  check(rss: number, opts: { evict?: boolean; retry?: boolean } = {}): MemoryDecision {
    const evict = opts.evict ?? false;
    const d: MemoryDecision = { spill: [], paused: false, terminate: false, why: '' };
    if (!this.enabled) return d;
    const t = this.thresholds;
    const frac = (x: number | false) => (x === false ? Infinity : x * this.limit);
    const target = frac(t.target === false ? t.spill : t.target);
    let toFree = 0;
    const whys: string[] = [];
    if (evict) {
      toFree = Infinity;
      whys.push('evicting everything');
    } else {
      if (t.target !== false && this.managed > frac(t.target)) {
        toFree = this.managed - frac(t.target);
        whys.push(`stored values ${mib(this.managed)} above target ${mib(frac(t.target))}`);
      }
      if (this.over('spill', rss)) {
        toFree = Math.max(toFree, rss - target);
        whys.push(`process memory ${mib(rss)} above spill ${mib(frac(t.spill))}`);
      }
    }
    // Nothing left to write: a failed disk no longer matters.
    if (toFree === 0) this.diskFailing = false;
    if (toFree > 0 && (!this.diskFailing || opts.retry || evict)) {
      let freed = 0;
      for (const [key, e] of this.entries) {
        if (freed >= toFree) break;
        if (e.where !== 'memory') continue;
        e.where = 'writing';
        d.spill.push(key);
        freed += e.nbytes;
      }
    }
    const pausedBefore = this.paused;
    this.paused = this.over('pause', rss) || this.diskFailing;
    d.paused = this.paused;
    if (this.paused && !pausedBefore) {
      whys.push(
        this.diskFailing
          ? 'spilling to disk failed'
          : `process memory ${mib(rss)} above pause ${mib(frac(t.pause))}`,
      );
    }
    d.terminate = this.over('terminate', rss);
    if (d.terminate)
      whys.push(`process memory ${mib(rss)} above terminate ${mib(frac(t.terminate))}`);
    d.why = whys.join('; ');
    return d;
  }

  /** Invariants, for tests: the totals match the entries. */
  validate(): void {
    let managed = 0;
    let spilled = 0;
    let count = 0;
    for (const e of this.entries.values()) {
      if (e.where === 'disk') {
        spilled += e.nbytes;
        count += 1;
      } else managed += e.nbytes;
    }
    if (managed !== this.managed || spilled !== this.spilledBytes || count !== this.spilledCount) {
      throw new Error(
        `memory totals off: managed ${this.managed} (entries ${managed}), spilled ${this.spilledBytes}/${this.spilledCount} (entries ${spilled}/${count})`,
      );
    }
  }
}

/**
 * Each task thread's V8 heap cap (MiB): its share of what the process may still grow by before
 * the pause threshold (else terminate, else the limit), from its memory when it starts. A task
 * that builds more JS objects than that errs (ERR_TASK_MEMORY) before the process reaches its
 * terminate threshold. Buffers and typed arrays live outside the heap; the process's memory
 * checks catch those. No limit: no cap.
 */
export function heapCapMb(
  memoryLimit: number,
  t: MemoryThresholds,
  nthreads: number,
  rss: number,
): number | undefined {
  if (!(memoryLimit > 0)) return undefined;
  const line = (t.pause || t.terminate || 1) * memoryLimit;
  return Math.max(32, Math.floor((line - rss) / nthreads / 2 ** 20));
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}
