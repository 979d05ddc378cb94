import * as path from 'node:path';
import { Worker as Thread, type TransferListItem } from 'node:worker_threads';
import { packedBytes, type FnSpec } from '../protocol';
import { log } from '../log';
import {
  BATCH_BYTES,
  type ThreadData,
  type ThreadReply,
  type ThreadResult,
  type ThreadTask,
} from './thread-messages';
import type { GangSeat } from './gang-messages';
import { FN_CACHE_SIZE, Lru } from '../util/lru';
import { merge, trim, type ProfileTree } from './profile';

interface Slot {
  thread: Thread;
  /** Tasks posted to the thread and not answered yet, in the order posted. */
  inFlight: PoolTask[];
  /**
   * Runs of inFlight that wait on futures of their thread's client (seceded): they hold no slot,
   * so a thread all of whose runs are seceded takes more work. A subset of inFlight's runs.
   */
  seceded: Set<number>;
  /** What the thread's compiled-function cache holds, kept in step with it (Lru). */
  fns: Lru<string, true>;
  /** The run this thread is being terminated for (cancelled), else -1; it takes no more work. */
  killing: number;
  /** Terminated by recycle(): its tasks go back to the queue. */
  recycling?: boolean;
}

export interface PoolTask {
  /** Unique per run: a key may run again after a cancel. */
  run: number;
  key: string;
  fnId: string;
  spec: FnSpec;
  args: Buffer[];
  deps: [string, Buffer[]][];
  /** Run in a batch of its own: it was in a batch whose thread died, or it is a gang's member. */
  alone?: boolean;
  /** A gang member's seat (gang.ts); its port moves to the thread with it. */
  gang?: { seat: GangSeat; transfer: TransferListItem[] };
}

/** How a run ended: the thread's answer, or the death of the thread that ran it. */
export type PoolResult = ThreadResult | { run: number; key: string; died: string };

/** What the pool is told besides results, and what it hands its threads. */
export interface PoolOptions {
  /** Each thread's V8 old-space cap (MiB); a task over it errs ERR_TASK_MEMORY. */
  heapMb?: number;
  /** Where tasks' clients connect (getClient), handed to each thread in memory (workerData). */
  cluster?: ThreadData;
  /** A run started waiting on its client's futures (seceded) or stopped (rejoined). */
  onSecede?: (run: number, key: string, seceded: boolean) => void;
}

/** Tasks one thread takes at once while tasks are tiny. */
const BATCH = 64;
/** How long past a profile's end a thread's answer is waited for. */
const PROFILE_GRACE_MS = 2000;

/** Bytes of a run's inputs: its arguments and its dependencies' values, as packed. */
function inputBytes(t: PoolTask): number {
  let n = packedBytes(t.args);
  for (const [, frames] of t.deps) n += packedBytes(frames);
  return n;
}

/**
 * `nthreads` executor threads. A free thread takes the next task; while tasks are tiny (a mean
 * under 1 ms) a thread takes up to 64 at once (with up to 1 MiB of inputs between them) and
 * answers them in one message, to cut per-message overhead. A thread that dies (a task called
 * process.exit(), an error thrown outside the task's promise, out of memory) is replaced: the
 * task it ran is reported `died`; tasks batched with it run again one at a time, so only the
 * culprit dies. A thread terminated to stop a cancelled run is replaced the same way: that run
 * is reported `died`, its batch-mates run again.
 *
 * A thread runs several tasks at once when some wait on futures of its client (worker/
 * task-client.ts): such a run secedes, and a thread whose every run is seceded counts as free.
 * Answers are therefore matched to runs by run id, not to the batch they came in.
 */
export class ThreadPool {
  private readonly slots: Slot[] = [];
  private profileIds = 0;
  private readonly profiles = new Map<number, (tree: ProfileTree) => void>();
  private ready: PoolTask[] = [];
  private meanDuration = -1;
  private closing = false;
  /** Paused (memory above the pause threshold): queued tasks wait, threads take nothing new. */
  private paused = false;
  private queueEmpty: (() => void)[] = [];

  constructor(
    nthreads: number,
    private readonly onResult: (results: PoolResult[]) => void,
    private readonly limits: PoolOptions = {},
  ) {
    for (let i = 0; i < nthreads; i++) this.slots.push(this.startThread());
  }

  private startThread(): Slot {
    const data: ThreadData = this.limits.cluster ?? { scheduler: null, keys: null };
    const thread = new Thread(path.join(__dirname, 'executor.js'), {
      resourceLimits: this.limits.heapMb
        ? { maxOldGenerationSizeMb: this.limits.heapMb }
        : undefined,
      // The cluster's keys travel in memory, never on a command line, in the environment or on disk.
      workerData: data,
    });
    const slot: Slot = {
      thread,
      inFlight: [],
      seceded: new Set(),
      fns: new Lru(FN_CACHE_SIZE),
      killing: -1,
    };
    thread.on('message', (m: ThreadReply) => this.onReply(slot, m));
    let crash: Error | null = null;
    thread.on('error', (err) => (crash = err));
    thread.on('exit', (code) => {
      if (this.closing) return;
      const lost = slot.inFlight;
      slot.inFlight = [];
      // Its seceded runs hold slots again (they run anew, or end as died).
      for (const t of lost)
        if (slot.seceded.has(t.run)) this.limits.onSecede?.(t.run, t.key, false);
      slot.seceded.clear();
      this.slots[this.slots.indexOf(slot)] = this.startThread();
      const killed = slot.killing;
      // A recycled thread's task counts as one whose thread died: run again, and after 3 deaths
      // ERR_KILLED_WORKER, so a task that fills memory each time cannot loop for ever.
      const why = slot.recycling
        ? 'thread recycled: the worker was above its terminate memory threshold'
        : crash
          ? `${crash.name}: ${crash.message}`
          : `exit code ${code}`;
      const died: PoolResult[] = [];
      if (killed >= 0) {
        log.debug(`executor thread terminated to stop a cancelled task; starting another`);
        for (const t of lost) {
          if (t.run === killed) died.push({ run: t.run, key: t.key, died: 'terminated' });
        }
        this.ready = lost.filter((t) => t.run !== killed).concat(this.ready);
      } else {
        const oom = (crash as { code?: string } | null)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
        if (oom) {
          log.warn(
            `executor thread went over its heap cap of ${this.limits.heapMb} MiB (ERR_TASK_MEMORY); starting another`,
          );
        } else if (!slot.recycling) log.warn(`executor thread died (${why}); starting another`);
        if (lost.length === 1 && oom) {
          // Over its heap cap: running it again would do the same, so it errs at once.
          const error = {
            name: 'RangeError',
            message: `task ${lost[0].key} used more than its thread's heap cap of ${this.limits.heapMb} MiB (from the worker's memory limit); give the worker more memory or fewer threads`,
            code: 'ERR_TASK_MEMORY',
          };
          died.push({ run: lost[0].run, key: lost[0].key, error, duration: 0 });
        } else if (lost.length === 1) died.push({ run: lost[0].run, key: lost[0].key, died: why });
        else {
          for (const t of lost) t.alone = true;
          this.ready = lost.concat(this.ready);
        }
      }
      if (died.length > 0) this.onResult(died);
      this.dispatch();
    });
    return slot;
  }

  /** A thread's answer: runs that ended (matched by run id), or a run seceded or rejoined. */
  /**
   * Profiles every executor thread for `ms` (profile.ts): their trees, merged. A thread that does
   * not answer within `ms` + PROFILE_GRACE_MS (busy in one long synchronous call) is left out.
   */
  profile(ms: number): Promise<ProfileTree> {
    const id = ++this.profileIds;
    const trees: ProfileTree[] = [];
    return new Promise((resolve) => {
      let waiting = this.slots.length;
      const done = () => {
        clearTimeout(timer);
        this.profiles.delete(id);
        resolve(trim(merge({ n: 'all', s: 0, c: [] }, ...trees)));
      };
      const timer = setTimeout(done, ms + PROFILE_GRACE_MS);
      this.profiles.set(id, (tree) => {
        trees.push(tree);
        if (--waiting === 0) done();
      });
      for (const s of this.slots) s.thread.postMessage({ t: 'profile', id, ms });
      if (waiting === 0) done();
    });
  }

  private onReply(slot: Slot, m: ThreadReply): void {
    if (m.t === 'profile') {
      this.profiles.get(m.id)?.(m.tree);
      return;
    }
    if (m.t !== 'results') {
      const t = slot.inFlight.find((x) => x.run === m.run);
      if (!t) return; // ended meanwhile
      const seceded = m.t === 'seceded';
      if (seceded === slot.seceded.has(m.run)) return;
      if (seceded) slot.seceded.add(m.run);
      else slot.seceded.delete(m.run);
      this.limits.onSecede?.(t.run, t.key, seceded);
      if (seceded) this.dispatch();
      return;
    }
    const out: PoolResult[] = [];
    for (const r of m.results) {
      // Mostly the oldest run: a batch ends in the order it was sent.
      const i =
        slot.inFlight[0]?.run === r.run ? 0 : slot.inFlight.findIndex((t) => t.run === r.run);
      if (i < 0) continue;
      slot.inFlight.splice(i, 1);
      // A run that waited on others says nothing of how long tasks take: it sets no batching.
      if (!slot.seceded.delete(r.run) && !r.waited) {
        this.meanDuration =
          this.meanDuration < 0 ? r.duration : 0.9 * this.meanDuration + 0.1 * r.duration;
      }
      out.push(r);
    }
    // Runs of the batch the thread did not start (its results grew large): first in line again.
    const back: PoolTask[] = [];
    for (const run of m.returned ?? []) {
      const i = slot.inFlight.findIndex((t) => t.run === run);
      if (i >= 0) back.push(...slot.inFlight.splice(i, 1));
    }
    if (back.length > 0) this.ready = back.concat(this.ready);
    if (out.length > 0) this.onResult(out);
    this.dispatch();
  }

  get queued(): number {
    return this.ready.length;
  }

  submit(task: PoolTask): void {
    this.ready.push(task);
    this.dispatch();
  }

  /** Drops a run that has not started yet; returns whether it was found. */
  remove(run: number): boolean {
    const i = this.ready.findIndex((t) => t.run === run);
    if (i < 0) return false;
    this.ready.splice(i, 1);
    if (this.ready.length === 0) for (const r of this.queueEmpty.splice(0)) r();
    return true;
  }

  /**
   * Terminates the thread running `run` (a replacement starts; the run is reported `died`);
   * false when no thread runs it (it ended, or never started).
   */
  terminate(run: number): boolean {
    const slot = this.slots.find((s) => s.inFlight.some((t) => t.run === run));
    // Its thread may run other tasks (seceded ones, or those beside them): they run again.
    if (!slot || slot.killing >= 0) return false;
    slot.killing = run;
    void slot.thread.terminate();
    return true;
  }

  /** While paused no queued task starts; running ones finish. */
  setPaused(paused: boolean): void {
    this.paused = paused;
    if (!paused) this.dispatch();
  }

  /** Resolves once no task waits in the queue (every one handed to a thread, or removed). */
  whenQueueEmpty(): Promise<void> {
    if (this.ready.length === 0) return Promise.resolve();
    return new Promise((r) => this.queueEmpty.push(r));
  }

  /** Replaces every thread (freeing their heaps); tasks they ran go back to the queue. */
  recycle(): void {
    for (const slot of this.slots) {
      if (slot.killing >= 0 || slot.recycling) continue;
      slot.recycling = true;
      void slot.thread.terminate();
    }
  }

  private dispatch(): void {
    this.dispatchSome();
    if (this.ready.length === 0 && this.queueEmpty.length > 0) {
      for (const r of this.queueEmpty.splice(0)) r();
    }
  }

  private dispatchSome(): void {
    if (this.paused) return;
    const tiny = this.meanDuration >= 0 && this.meanDuration < 0.001;
    for (const slot of this.slots) {
      if (this.ready.length === 0) return;
      // Busy while any run it has holds its slot (seceded ones do not).
      if (slot.inFlight.length > slot.seceded.size || slot.killing >= 0 || slot.recycling) continue;
      // A batch ends before the first task that must run alone (or is that task only), and
      // before its inputs pass BATCH_BYTES.
      let n = 1;
      if (tiny && !this.ready[0].alone) {
        const most = Math.min(this.ready.length, BATCH);
        let bytes = inputBytes(this.ready[0]);
        while (n < most && !this.ready[n].alone) {
          bytes += inputBytes(this.ready[n]);
          if (bytes > BATCH_BYTES) break;
          n += 1;
        }
      }
      const sent = this.ready.splice(0, n);
      for (const t of sent) slot.inFlight.push(t);
      const transfer: TransferListItem[] = [];
      const batch: ThreadTask[] = sent.map((t) => {
        const first = !slot.fns.use(t.fnId, true);
        if (t.gang) transfer.push(...t.gang.transfer);
        return {
          run: t.run,
          key: t.key,
          fnId: t.fnId,
          spec: first ? t.spec : undefined,
          args: t.args,
          deps: t.deps,
          gang: t.gang?.seat,
        };
      });
      slot.thread.postMessage(batch, transfer);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => s.thread.terminate()));
  }
}
