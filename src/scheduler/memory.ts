import type { WorkerState } from './types';

/**
 * A worker's memory as the scheduler sees it (issue 20): what it last reported in a heartbeat,
 * carried forward by what the scheduler itself learned since (results that landed there, keys
 * freed there), so placement never waits a heartbeat to see a result of 500 MB. Pure figures; the
 * thresholds that act on them live in the worker (spill, pause, terminate), which may run with
 * some of them off, so the scheduler reads only the `paused` flag the worker reports and its own
 * "above target" line for placement.
 */
export interface WorkerMemory {
  /** Bytes of stored values in memory, as last reported (the worker's own count). */
  managed: number;
  /** Resident memory of the worker's process, as last reported. */
  rss: number;
  /** Bytes and count of values spilled to disk, as last reported. */
  spilled: number;
  spilledCount: number;
  /** The worker is above its pause threshold: it starts no task, and is given none. */
  paused: boolean;
  /** The scheduler's count of bytes held there (`WorkerState.nbytes`) when the report came. */
  heldAtReport: number;
  /** Whether it ever reported `managed` (a worker without a memory manager reports rss only). */
  reportsManaged: boolean;
}

/** What a heartbeat says of memory; absent fields keep their last value. */
export interface MemoryReport {
  managed?: number;
  rss?: number;
  spilled?: number;
  spilledCount?: number;
  paused?: boolean;
}

/**
 * Above this fraction of its memory limit a worker is "above target" (Dask's target, 0.60): it
 * gets no new task while another worker that may run it has room, unless it alone holds an input.
 */
export const TARGET_FRACTION = 0.6;

export function newMemory(): WorkerMemory {
  return {
    managed: 0,
    rss: 0,
    spilled: 0,
    spilledCount: 0,
    paused: false,
    heldAtReport: 0,
    reportsManaged: false,
  };
}

/** Takes a heartbeat's figures in. */
export function applyReport(w: WorkerState, r: MemoryReport): void {
  const m = w.memory;
  if (r.managed !== undefined) {
    m.managed = r.managed;
    m.heldAtReport = w.nbytes;
    m.reportsManaged = true;
  }
  if (r.rss !== undefined) m.rss = r.rss;
  if (r.spilled !== undefined) m.spilled = r.spilled;
  if (r.spilledCount !== undefined) m.spilledCount = r.spilledCount;
  if (r.paused !== undefined) m.paused = r.paused;
}

/**
 * Bytes of stored values in memory now: the last report plus what landed there since minus what
 * was freed. Before any report (or from a worker that reports none) that is every byte it holds.
 */
export function managedNow(w: WorkerState): number {
  return Math.max(0, w.memory.managed + w.nbytes - w.memory.heldAtReport);
}

/** The process's memory beyond its stored values (Dask's unmanaged), as of the last report. */
export function unmanagedOf(w: WorkerState): number {
  const m = w.memory;
  return Math.max(0, m.rss - (m.reportsManaged ? m.managed : w.nbytes));
}

/** Memory in use now: stored values now plus the unmanaged part last reported. */
export function usedNow(w: WorkerState): number {
  return managedNow(w) + unmanagedOf(w);
}

/** Whether placement should look elsewhere first: above TARGET_FRACTION of a set memory limit. */
export function aboveTarget(w: WorkerState): boolean {
  const limit = w.info.memoryLimit;
  return limit > 0 && usedNow(w) > TARGET_FRACTION * limit;
}

/** The figures shown to users (schedulerInfo, the dashboard, /metrics), Dask's names. */
export interface MemoryFigures {
  managed: number;
  unmanaged: number;
  spilled: number;
  spilledCount: number;
  paused: boolean;
}

export function memoryFigures(w: WorkerState): MemoryFigures {
  const m = w.memory;
  return {
    managed: managedNow(w),
    unmanaged: unmanagedOf(w),
    spilled: m.spilled,
    spilledCount: m.spilledCount,
    paused: m.paused,
  };
}
