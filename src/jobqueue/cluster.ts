import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { ClusterError } from '../errors';
import { log } from '../log';
import type { ClusterKeys } from '../net/security';
import { Scheduler } from '../scheduler/server';
import {
  adaptBounds,
  adaptTarget,
  jobsToSubmit,
  type AdaptBounds,
  type AdaptOptions,
} from './adapt';
import { cleanup, clusterDir, makePrivateDir, removeLedger, writeLedger } from './ledger';
import {
  CLUSTER_CLASS,
  resolveJobOptions,
  type JobQueueOptions,
  type ResolvedJobOptions,
  type SystemName,
} from './options';
import { jobOfWorker, renderJobScript, walltimeMargin } from './script';
import { outputTail, SYSTEMS, type BatchStatus, type BatchSystem, type JobState } from './systems';
import { onExitCancel } from './exit';
import { closeClusterAtScriptEnd } from '../cluster/script-end';

/** How often the batch system is asked about the jobs (ms). */
const POLL_MS = 1000;
/** Jobs in a row that end before any worker registers, after which no more are submitted. */
const MAX_FAILED_STARTS = 3;
/** How long removing a running job waits for its workers to hand their data over (ms). */
const RETIRE_TIMEOUT_MS = 30_000;
/** How long close() waits for the batch system to list the cancelled jobs as ended (ms). */
const CLOSE_WAIT_MS = 30_000;
/** How long a job just submitted may be missing from the batch system's lists (ms). */
const UNLISTED_GRACE_MS = 30_000;
/** Ended jobs remembered for jobs(). */
const HISTORY = 1000;

interface JobRecord {
  id: string;
  submitted: number;
  status: BatchStatus;
  /** The batch system has listed it at least once. */
  listed: boolean;
  runningSince?: number;
  ended?: number;
  /** Ids of its workers now registered. */
  workers: Set<string>;
  everRegistered: boolean;
  /** A replacement was asked for (its walltime is near): it no longer counts toward the target. */
  replaced: boolean;
  /** Being scaled away (retiring, then cancelled). */
  removing: boolean;
  retiring: boolean;
  cancelledByUs: boolean;
  /** For a job that ended before any of its workers registered. */
  output?: string;
}

/** What `jobs()` reports of each job. */
export interface JobReport {
  id: string;
  /** From the batch system: pending and running are never confused (a pending job has no workers). */
  state: JobState;
  /** The batch system's own word (PENDING, Q, qw, ...). */
  native: string;
  reason?: string;
  /** Names of its workers registered now. */
  workers: string[];
  submitted: number;
  /** The tail of its output, for a job that ended before its workers registered. */
  output?: string;
}

interface Paths {
  dir: string;
  script: string;
  schedulerFile: string;
  logDirectory: string;
}

type Parts = [
  id: string,
  system: BatchSystem,
  o: ResolvedJobOptions,
  scheduler: Scheduler,
  paths: Paths,
];

const LIVE: ReadonlySet<JobState> = new Set(['pending', 'running']);

/**
 * A scheduler in this process (on the login node) and workers submitted as batch jobs, scaled by
 * hand (`scale`) or by load (`adapt`). SLURMCluster, PBSCluster and SGECluster differ only in
 * the script they write and the commands they run.
 */
export class JobQueueCluster {
  readonly id: string;
  readonly scheduler: Scheduler;
  private readonly system: BatchSystem;
  private readonly o: ResolvedJobOptions;
  private readonly paths: Paths;
  private readonly records = new Map<string, JobRecord>();
  private targetJobs = 0;
  private adaptive: { bounds: AdaptBounds; below: number; last: number } | null = null;
  private failedStarts = 0;
  private failureWaiters = new Set<(err: ClusterError) => void>();
  private timer: NodeJS.Timeout;
  private queue: Promise<void> = Promise.resolve();
  private queued = false;
  /** What the last step failed on (a batch command that failed), for scale() to throw. */
  private stepError: Error | null = null;
  private closing: Promise<void> | null = null;
  private readonly env: NodeJS.ProcessEnv;
  private readonly stopCancelOnExit: () => void;
  /** A script that ends without close() closes this cluster (its jobs cancelled). */
  private readonly leaveScriptEnd: () => void;
  private ledgerJobs = '';
  private readonly started = Date.now();

  protected constructor(...[id, system, o, scheduler, paths]: Parts) {
    this.id = id;
    this.system = system;
    this.o = o;
    this.scheduler = scheduler;
    this.paths = paths;
    this.env = { ...process.env, ...(o.env ?? {}) };
    this.timer = setInterval(() => void this.kick(), POLL_MS);
    this.timer.unref();
    this.stopCancelOnExit = onExitCancel(() => this.cancelNow());
    this.leaveScriptEnd = closeClusterAtScriptEnd({ busy: () => false, close: () => this.close() });
  }

  protected static async open<C extends JobQueueCluster>(
    system: SystemName,
    options: JobQueueOptions,
    make: (...a: Parts) => C,
  ): Promise<C> {
    const o = resolveJobOptions(system, options);
    const batch = SYSTEMS[system];
    const id = `${system}-${randomUUID().slice(0, 8)}`;
    const dir = clusterDir(id);
    makePrivateDir(dir);
    const logDirectory = path.resolve(o.logDirectory ?? path.join(dir, 'logs'));
    makePrivateDir(logDirectory);
    const schedulerFile = path.resolve(o.schedulerFile ?? path.join(dir, 'scheduler.json'));
    const script = path.join(dir, 'job.sh');
    // Jobs a crashed or killed client left behind (its process is gone) are cancelled first.
    for (const left of await cleanup({ system })) {
      log.warn(
        `${CLUSTER_CLASS[system]}: cancelled ${left.jobs.length} job(s) left by cluster ${left.cluster} whose process is gone: ${left.jobs.join(' ') || '(none)'}`,
      );
    }
    const so = o.schedulerOptions ?? {};
    let scheduler: Scheduler;
    try {
      scheduler = await Scheduler.start({
        host: so.host,
        interface: so.host ? undefined : (so.interface ?? o.interface),
        port: so.port,
        schedulerFile,
        security: o.security,
      });
    } catch (err) {
      const e = err as ClusterError;
      if (e.code === 'ERR_INTERFACE_NOT_FOUND' && !so.interface && !so.host) {
        throw new ClusterError(
          'ERR_INTERFACE_NOT_FOUND',
          `${e.message} The scheduler runs here (${os.hostname()}), where interface "${o.interface}" of the compute nodes may not exist: give schedulerOptions: { interface } or { host } for this node's network that the compute nodes reach.`,
        );
      }
      throw err;
    }
    const cluster = make(id, batch, o, scheduler, { dir, script, schedulerFile, logDirectory });
    fs.writeFileSync(script, cluster.jobScript(), { mode: 0o700 });
    cluster.saveLedger(true);
    log.info(
      `${CLUSTER_CLASS[system]} ${id}: scheduler at ${scheduler.address}; job script ${script}; job output in ${logDirectory}`,
    );
    return cluster;
  }

  get address(): string {
    return this.scheduler.address;
  }

  /** The cluster's keys (null without security): `Client.connect(cluster)` uses them. */
  get keys(): ClusterKeys | null {
    return this.scheduler.keys;
  }

  /** Exactly what is submitted for each job. */
  jobScript(): string {
    return renderJobScript(this.o, {
      schedulerFile: this.paths.schedulerFile,
      logDirectory: this.paths.logDirectory,
    });
  }

  /** Workers registered now (never the ones in pending jobs). */
  get workerCount(): number {
    return this.scheduler.core.workers.size;
  }

  /**
   * Runs `n` workers (rounded up to whole jobs of `processes` workers), or `{ jobs }` jobs; stops
   * adapt. Resolves once the jobs are submitted; `waitForWorkers` waits for them to register.
   */
  async scale(n: number | { jobs: number }): Promise<void> {
    this.checkOpen();
    const jobs = typeof n === 'number' ? n : n?.jobs;
    if (!Number.isInteger(jobs) || jobs < 0) {
      throw new ClusterError(
        'ERR_INVALID_OPTION',
        `scale: give a non-negative integer of workers, or { jobs }, got ${JSON.stringify(n)}`,
      );
    }
    this.adaptive = null;
    this.targetJobs = typeof n === 'number' ? Math.ceil(n / this.o.processes) : jobs;
    this.failedStarts = 0;
    await this.kick();
    // A submission that failed (sbatch missing, a directive refused) is the caller's error.
    if (this.stepError) throw this.stepError;
  }

  /** Scales with the load, within bounds; whole jobs at a time. `scale()` stops it. */
  adapt(options: AdaptOptions = {}): void {
    this.checkOpen();
    this.adaptive = { bounds: adaptBounds(options, this.o.processes), below: 0, last: 0 };
    this.failedStarts = 0;
    void this.kick();
  }

  /**
   * Resolves once `n` workers are registered. Rejects with ERR_JOB_FAILED (and the job's output)
   * as soon as a job ends before its workers register, and with ERR_TIMEOUT after `timeout` ms.
   */
  waitForWorkers(n: number, timeout = 300_000): Promise<void> {
    let reject!: (e: ClusterError) => void;
    const failed = new Promise<never>((_, r) => (reject = r));
    this.failureWaiters.add(reject);
    const ok = this.scheduler.waitForWorkers(n, timeout).catch(async (err: Error) => {
      const jobs = (await this.jobs().catch(() => [])).map(
        (j) => `${j.id} ${j.state}${j.reason ? ` (${j.reason})` : ''}`,
      );
      throw new ClusterError('ERR_TIMEOUT', `${err.message}; jobs: ${jobs.join(', ') || 'none'}`);
    });
    return Promise.race([ok, failed]).finally(() => this.failureWaiters.delete(reject));
  }

  /** Each job's state, asked of the batch system now, with its workers. */
  async jobs(): Promise<JobReport[]> {
    await this.kick();
    const names = new Map(
      [...this.scheduler.core.workers.values()].map((w) => [w.id, w.info.name]),
    );
    return [...this.records.values()].map((r) => ({
      id: r.id,
      state: r.ended && r.cancelledByUs ? 'cancelled' : r.status.state,
      native: r.status.native,
      reason: r.status.reason,
      workers: [...r.workers].map((w) => names.get(w) ?? w),
      submitted: r.submitted,
      output: r.output,
    }));
  }

  /** Cancels every job of this cluster, waits for the batch system to let them go, stops. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.timer);
      this.adaptive = null;
      await this.queue;
      const live = () => [...this.records.values()].filter((r) => !r.ended);
      for (const r of live()) r.cancelledByUs = true;
      await this.system.cancel(
        live().map((r) => r.id),
        this.env,
      );
      const deadline = Date.now() + CLOSE_WAIT_MS;
      while (live().length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        await this.refresh().catch((err: Error) => log.warn(`${this.name}: ${err.message}`));
      }
      if (live().length > 0) {
        log.warn(
          `${this.name}: jobs ${live()
            .map((r) => r.id)
            .join(' ')} still listed ${CLOSE_WAIT_MS / 1000} s after cancelling`,
        );
      }
      await this.scheduler.close(`${this.name} closed`);
      removeLedger(this.id);
      this.stopCancelOnExit();
      this.leaveScriptEnd();
    })();
    return this.closing;
  }

  private get name(): string {
    return `${CLUSTER_CLASS[this.o.system]} ${this.id}`;
  }

  private checkOpen(): void {
    if (this.closing) throw new ClusterError('ERR_CLIENT_CLOSED', `${this.name} is closed`);
  }

  /** One step at a time: a call while one runs waits for the next. */
  private kick(): Promise<void> {
    if (this.queued) return this.queue;
    this.queued = true;
    this.queue = this.queue.then(async () => {
      this.queued = false;
      if (this.closing) return;
      try {
        await this.step();
        this.stepError = null;
      } catch (err) {
        this.stepError = err as Error;
        log.warnOften('jobqueue-step', `${this.name}: ${(err as Error).message}`);
      }
    });
    return this.queue;
  }

  /** Reads the jobs' states and workers, then submits or removes jobs toward the target. */
  private async step(): Promise<void> {
    await this.refresh();
    const now = Date.now();
    const margin = walltimeMargin(this.o.walltimeSeconds) * 1000;
    const wall = this.o.walltimeSeconds * 1000;
    for (const r of this.records.values()) {
      if (r.ended || r.runningSince === undefined) continue;
      // Walltime near: a replacement first, then the workers hand their data to it and leave.
      if (!r.replaced && now >= r.runningSince + wall - 2 * margin) {
        r.replaced = true;
        log.info(
          `${this.name}: job ${r.id} nears its walltime (${this.o.walltime}); submitting a replacement`,
        );
      }
      if (!r.retiring && now >= r.runningSince + wall - margin)
        void this.remove(r, 'walltime near');
    }
    await this.converge();
    this.saveLedger();
  }

  private async refresh(): Promise<void> {
    const live = [...this.records.values()].filter((r) => !r.ended);
    const statuses = await this.system.status(
      live.map((r) => r.id),
      this.env,
    );
    const now = Date.now();
    for (const r of live) {
      const s = statuses.get(r.id);
      if (!s) continue;
      // A job just submitted may not be listed yet (seen with OpenPBS): not an end.
      if (s.state === 'gone' && !r.listed && now - r.submitted < UNLISTED_GRACE_MS) continue;
      if (s.state !== 'gone') r.listed = true;
      r.status = s;
      if (s.state === 'running' && r.runningSince === undefined) r.runningSince = now;
    }
    for (const w of this.scheduler.core.workers.values()) {
      const job = jobOfWorker(this.o.jobName, w.info.name);
      const r = job === null ? undefined : this.records.get(job);
      if (r && !r.workers.has(w.id)) {
        r.workers.add(w.id);
        r.everRegistered = true;
        this.failedStarts = 0;
      }
    }
    for (const r of this.records.values()) {
      for (const w of r.workers) if (!this.scheduler.core.workers.has(w)) r.workers.delete(w);
    }
    for (const r of live) if (!LIVE.has(r.status.state)) this.ended(r, now);
    this.forgetOld();
  }

  private ended(r: JobRecord, now: number): void {
    r.ended = now;
    if (r.cancelledByUs || r.everRegistered) {
      log.info(
        `${this.name}: job ${r.id} ended (${r.status.native}${r.status.reason ? `, ${r.status.reason}` : ''})`,
      );
      return;
    }
    this.failedStarts += 1;
    r.output = outputTail(this.system.outputFiles(r.id, this.paths.logDirectory, this.o.jobName));
    const why = `${r.status.native}${r.status.reason ? `, ${r.status.reason}` : ''}`;
    const err = new ClusterError(
      'ERR_JOB_FAILED',
      `${this.name}: job ${r.id} ended (${why}) before any of its workers registered; its output:\n${r.output}`,
    );
    log.error(err.message);
    if (this.failedStarts >= MAX_FAILED_STARTS) {
      log.error(
        `${this.name}: ${this.failedStarts} jobs in a row ended before their workers started; submitting no more until scale() or adapt() is called again`,
      );
    }
    for (const w of this.failureWaiters) w(err);
  }

  private forgetOld(): void {
    const ended = [...this.records.values()].filter((r) => r.ended);
    for (const r of ended.slice(0, Math.max(0, ended.length - HISTORY))) this.records.delete(r.id);
  }

  /** Jobs that count toward the target: queued or running, not replaced, not being removed. */
  private active(): JobRecord[] {
    return [...this.records.values()].filter((r) => !r.ended && !r.replaced && !r.removing);
  }

  private async converge(): Promise<void> {
    const active = this.active();
    let target = this.targetJobs;
    if (this.adaptive) {
      const a = this.adaptive;
      if (Date.now() - a.last < a.bounds.interval) return;
      a.last = Date.now();
      const c = this.scheduler.core.counts();
      const unfinished =
        (c.waiting ?? 0) + (c['no-worker'] ?? 0) + (c.queued ?? 0) + (c.processing ?? 0);
      const t = adaptTarget(
        {
          unfinished,
          threadsPerWorker: this.o.threadsPerWorker,
          processes: this.o.processes,
          jobs: active.length,
        },
        a.bounds,
        a.below,
      );
      a.below = t.below;
      target = t.jobs;
    }
    if (active.length < target) {
      if (this.failedStarts >= MAX_FAILED_STARTS) return;
      const pending = active.filter((r) => r.status.state === 'pending').length;
      const cap = this.adaptive ? this.adaptive.bounds.maximumPendingJobs : Infinity;
      const n = jobsToSubmit(target, active.length, pending, cap);
      for (let i = 0; i < n; i++) await this.submit();
    } else if (active.length > target) {
      // Pending jobs first (newest first), then the running ones doing the least.
      const load = (r: JobRecord) =>
        [...r.workers].reduce(
          (sum, w) => sum + (this.scheduler.core.workers.get(w)?.processing.size ?? 0),
          0,
        );
      const order = active.sort((a, b) =>
        a.status.state !== b.status.state
          ? a.status.state === 'pending'
            ? -1
            : 1
          : a.status.state === 'pending'
            ? b.submitted - a.submitted
            : load(a) - load(b),
      );
      for (const r of order.slice(0, active.length - target)) void this.remove(r, 'scaled down');
    }
  }

  private async submit(): Promise<void> {
    const id = await this.system.submit(this.paths.script, this.env, this.paths.dir);
    this.records.set(id, {
      id,
      submitted: Date.now(),
      status: { state: 'pending', native: 'submitted' },
      listed: false,
      workers: new Set(),
      everRegistered: false,
      replaced: false,
      removing: false,
      retiring: false,
      cancelledByUs: false,
    });
    this.saveLedger();
    log.info(`${this.name}: submitted job ${id}`);
  }

  /** Retires a job's workers together (their data moves to workers that stay), then cancels it. */
  private async remove(r: JobRecord, why: string): Promise<void> {
    r.removing = true;
    if (r.retiring) return;
    r.retiring = true;
    const ids = [...r.workers];
    if (ids.length > 0) {
      log.info(`${this.name}: retiring the ${ids.length} worker(s) of job ${r.id} (${why})`);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.scheduler.retireWorkers(ids),
        new Promise((res) => (timer = setTimeout(res, RETIRE_TIMEOUT_MS))),
      ]);
      clearTimeout(timer);
    }
    if (r.ended) return;
    r.cancelledByUs = true;
    await this.system.cancel([r.id], this.env);
  }

  private saveLedger(force = false): void {
    const jobs = [...this.records.values()].filter((r) => !r.ended).map((r) => r.id);
    const key = jobs.join(' ');
    if (!force && key === this.ledgerJobs) return;
    this.ledgerJobs = key;
    writeLedger({
      cluster: this.id,
      system: this.o.system,
      pid: process.pid,
      host: os.hostname(),
      started: this.started,
      env: this.o.env ?? {},
      jobs,
    });
  }

  /** On a signal or exit, before the process goes: every job cancelled, synchronously. */
  private cancelNow(): void {
    const ids = [...this.records.values()].filter((r) => !r.ended).map((r) => r.id);
    this.system.cancelNow(ids, this.env);
    removeLedger(this.id);
  }
}

/** Options of SLURMCluster: dask-jobqueue's, camel-cased, with jobCpu and jobMem. */
export type SLURMClusterOptions = Omit<JobQueueOptions, 'resourceSpec'>;
/** Options of PBSCluster: with resourceSpec (the -l list). */
export type PBSClusterOptions = Omit<JobQueueOptions, 'jobCpu' | 'jobMem'>;
/** Options of SGECluster: with resourceSpec (a -l list); account is the SGE project (-P). */
export type SGEClusterOptions = Omit<JobQueueOptions, 'jobCpu' | 'jobMem'>;

export class SLURMCluster extends JobQueueCluster {
  static start(options: SLURMClusterOptions): Promise<SLURMCluster> {
    return JobQueueCluster.open('slurm', options, (...a) => new SLURMCluster(...a));
  }
}

export class PBSCluster extends JobQueueCluster {
  static start(options: PBSClusterOptions): Promise<PBSCluster> {
    return JobQueueCluster.open('pbs', options, (...a) => new PBSCluster(...a));
  }
}

export class SGECluster extends JobQueueCluster {
  static start(options: SGEClusterOptions): Promise<SGECluster> {
    return JobQueueCluster.open('sge', options, (...a) => new SGECluster(...a));
  }
}
