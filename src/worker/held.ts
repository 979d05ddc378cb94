/**
 * The values a worker holds, in memory or spilled to disk: the Map the worker state machine keeps
 * its data in (state.ts decides what is stored and freed; this only watches), with the memory
 * manager's bookkeeping (memory.ts decides what to spill, when to pause) and the spill store's
 * I/O (spill.ts). A spilled value's frames are null here; `frames(key)` reads it back.
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { log } from '../log';
import { MemoryManager, mib, type MemoryThresholds } from './memory';
import { SpillStore } from './spill';
import type { Stored } from './state-types';

/** A stored value: its packed frames, or null while it is on disk. */
export interface Held {
  frames: Buffer[] | null;
}

export interface HeldOptions {
  /** Bytes; 0: no limit, nothing spills or pauses. */
  limit: number;
  thresholds: MemoryThresholds;
  /** The worker's own directory (the spill store goes in it). */
  directory: string;
  name: string;
  /** The worker paused (true) or resumed (false), and why. */
  onPause(paused: boolean, why: string): void;
  /** Process memory is above the terminate threshold. */
  onTerminate(why: string): void;
}

let gcFn: (() => void) | null | undefined;
/**
 * A full garbage collection. Spilled values' buffers are freed only when V8 collects them, and a
 * paused worker allocates nothing that would make it: without this its memory would not fall
 * back under the pause threshold. (Node exposes gc only with --expose-gc; the flag can be set
 * at run time, and gc taken from a fresh context.)
 */
function collectGarbage(): void {
  if (gcFn === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      gcFn = vm.runInNewContext('gc') as () => void;
    } catch {
      gcFn = null;
    }
  }
  gcFn?.();
}

/** Garbage is collected at most this often (ms) for memory's sake. */
const GC_EVERY_MS = 250;

/** How often process memory is sampled (ms), as Dask's memory monitor. */
const MONITOR_MS = 100;
/** After a failed spill write, the next try waits this long (ms). */
const RETRY_MS = 1000;
/** How long a worker stays paused with nothing left to spill before it runs tasks again (ms). */
const STUCK_MS = 3000;
/** How long process memory must stay over terminate, a full collection in between (ms). */
const TERMINATE_AFTER_MS = 2 * MONITOR_MS;
/** onTerminate is called at most this often (ms): evicting takes a moment to show in RSS. */
const TERMINATE_EVERY_MS = 5000;

export class HeldData extends Map<string, Stored<Held>> {
  readonly memory: MemoryManager;
  private readonly store: SpillStore;
  private readonly writes: string[] = [];
  private writing = false;
  private monitor: NodeJS.Timeout | null = null;
  private checkQueued = false;
  private paused = false;
  private failedAt = 0;
  private terminatedAt = -Infinity;
  /** When process memory went over terminate (null: it is not). */
  private overSince: number | null = null;
  /** Since when the worker has been paused with nothing to spill (null: it is not). */
  private pausedIdleSince: number | null = null;
  /** Running tasks again although over pause: nothing left to spill (see check()). */
  private unstuck = false;
  private collectedAt = -Infinity;
  private spilling = false;
  private closed = false;

  constructor(private readonly o: HeldOptions) {
    super();
    this.memory = new MemoryManager(o.limit, o.thresholds);
    this.store = SpillStore.create(o.directory);
    if (this.memory.enabled) {
      this.monitor = setInterval(() => this.check(), MONITOR_MS);
      this.monitor.unref();
    }
  }

  get isPaused(): boolean {
    return this.paused;
  }

  override set(key: string, v: Stored<Held>): this {
    const old = super.get(key);
    if (old && old !== v) this.forget(key, old);
    super.set(key, v);
    this.memory.stored(key, v.nbytes);
    this.soon();
    return this;
  }

  override delete(key: string): boolean {
    const v = super.get(key);
    if (!v) return false;
    super.delete(key);
    this.forget(key, v);
    return true;
  }

  private forget(key: string, v: Stored<Held>): void {
    this.memory.released(key);
    if (v.value.frames === null) this.store.remove(key);
  }

  /**
   * The frames of a value held here, read from disk when spilled; null if not held. A spilled
   * value is read for that use (a task's input, a value sent to a peer or a client) and stays on
   * disk: reading it back into memory would only spill it again.
   */
  frames(key: string): Buffer[] | null | Promise<Buffer[] | null> {
    const v = super.get(key);
    if (!v) return null;
    this.memory.touched(key);
    if (v.value.frames) return v.value.frames;
    return this.store.read(key).catch((err: Error) => {
      log.error(`worker ${this.o.name}: ${err.message}`);
      return null;
    });
  }

  /** A check on the next turn of the event loop (after a value was stored). */
  private soon(): void {
    if (this.checkQueued || !this.memory.enabled || this.closed) return;
    this.checkQueued = true;
    setImmediate(() => {
      this.checkQueued = false;
      this.check();
    });
  }

  /** Samples process memory and carries out the memory manager's decision. */
  check(evict = false): void {
    if (this.closed) return;
    let rss = process.memoryUsage.rss();
    const now = Date.now();
    // Above spill or pause with nothing being written: collect first, the freed buffers may be
    // all there is to it (values spilled, results sent and dropped).
    const high = this.memory.over('spill', rss) || this.memory.over('pause', rss);
    if (high && !this.writing && now - this.collectedAt >= GC_EVERY_MS) {
      this.collectedAt = now;
      collectGarbage();
      rss = process.memoryUsage.rss();
    }
    const retry = this.memory.failing && now - this.failedAt >= RETRY_MS;
    const d = this.memory.check(rss, evict || retry ? { evict, retry } : undefined);
    for (const key of d.spill) this.writes.push(key);
    if (d.spill.length > 0) {
      if (!this.spilling) log.info(`worker ${this.o.name}: spilling to disk: ${d.why}`);
      this.spilling = true;
      void this.drain();
    } else if (!this.writing && !this.memory.failing) this.spilling = false;
    // Paused by process memory with nothing of ours left in memory to spill: what holds it is
    // not ours to free (unmanaged), and waiting would wait for ever. After STUCK_MS the worker
    // runs its tasks again (terminate still guards the process) until memory is back under
    // pause or there is something to spill again.
    const nothingToSpill = this.memory.managed < 0.05 * this.o.limit && !this.writing;
    if (!d.paused || !nothingToSpill || this.memory.failing) this.pausedIdleSince = null;
    else if (this.pausedIdleSince === null) this.pausedIdleSince = now;
    else if (now - this.pausedIdleSince >= STUCK_MS && !this.unstuck) {
      this.unstuck = true;
      log.warn(
        `worker ${this.o.name}: process memory ${mib(rss)} stays above the pause threshold with nothing left to spill (memory that is not stored values: the tasks' own, or the runtime's); running tasks again rather than waiting for ever`,
      );
    }
    if (!d.paused || !nothingToSpill) this.unstuck = false;
    const paused = d.paused && !this.unstuck;
    if (paused !== this.paused) {
      this.paused = paused;
      this.o.onPause(
        paused,
        paused
          ? d.why
          : d.paused
            ? 'memory still over pause, but nothing is left to spill'
            : `process memory ${mib(rss)} back under pause`,
      );
    }
    // Over terminate only counts once it lasts past a full collection: a value just written
    // and one just arrived can be over for a moment with most of it garbage. Nor while values
    // are being written to disk: that is memory being freed (writes end; then it counts).
    if (!d.terminate || this.writing) this.overSince = null;
    else if (this.overSince === null) {
      this.overSince = now;
      this.collectedAt = now;
      collectGarbage();
    } else if (
      now - this.overSince >= TERMINATE_AFTER_MS &&
      now - this.terminatedAt >= TERMINATE_EVERY_MS
    ) {
      // One more collection first: values spilled since the last one (it may have run while
      // they were being written) are garbage now, and a process is ended only for what is not.
      this.collectedAt = now;
      collectGarbage();
      if (!this.memory.over('terminate', process.memoryUsage.rss())) {
        this.overSince = null;
        return;
      }
      this.terminatedAt = now;
      this.overSince = null;
      this.o.onTerminate(d.why);
    }
  }

  /** Writes queued spills one at a time; a value freed or replaced meanwhile is skipped. */
  private async drain(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      for (let key = this.writes.shift(); key !== undefined; key = this.writes.shift()) {
        const v = super.get(key);
        const frames = v?.value.frames;
        if (!v || !frames) {
          this.memory.spillFailed(key, false);
          continue;
        }
        try {
          await this.store.write(key, frames);
        } catch (err) {
          this.failedAt = Date.now();
          this.memory.spillFailed(key, true);
          for (const k of this.writes.splice(0)) this.memory.spillFailed(k, false);
          log.warnOften(
            'spill',
            `worker ${this.o.name}: [ERR_SPILL] ${(err as Error).message}; paused until a write succeeds`,
          );
          this.check();
          return;
        }
        if (super.get(key) !== v || this.closed) {
          this.store.remove(key);
          continue;
        }
        v.value.frames = null;
        this.memory.spilled(key);
      }
    } finally {
      this.writing = false;
    }
    // The written values' buffers are garbage now: collected here, not whenever V8 would.
    const now = Date.now();
    if (now - this.collectedAt >= GC_EVERY_MS) {
      this.collectedAt = now;
      collectGarbage();
    }
  }

  close(): void {
    this.closed = true;
    if (this.monitor) clearInterval(this.monitor);
  }
}
