/**
 * The job-queue cluster tests, the same for each batch system (slurm.test.ts, pbs.test.ts,
 * sge.test.ts run them against a real Slurm, OpenPBS and Son of Grid Engine): the scheduler and
 * client here (the "login node"), workers in real batch jobs.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  Client,
  PBSCluster,
  SGECluster,
  SLURMCluster,
  type JobQueueCluster,
  type JobQueueOptions,
} from '../../src';
import { until } from '../slurm/lab';
import { describeBed, type Bed, type BedKind } from './beds';

const ROOT = path.resolve(__dirname, '..', '..');
const JOBS_CLI = path.join(ROOT, 'dist', 'cli', 'jobs.js');

const START: Record<BedKind, (o: JobQueueOptions) => Promise<JobQueueCluster>> = {
  slurm: (o) => SLURMCluster.start(o),
  pbs: (o) => PBSCluster.start(o),
  sge: (o) => SGECluster.start(o),
};

export interface SuiteSpec {
  kind: BedKind;
  /** The interface the workers serve data on inside the jobs. */
  workerInterface: string;
  /** A walltime short enough for a test, and how long the system takes to enforce it (ms). */
  shortWalltime: string;
  walltimeWaitMs: number;
  /** The tutorial's call for this system, adapted only where the bed must be named. */
  tutorial?: (bed: Bed) => JobQueueOptions;
  /** Set-up the tutorial call needs in the bed (a queue it names, ...); undone by the result. */
  prepareTutorial?: (bed: Bed) => Promise<() => Promise<void>>;
  /**
   * Makes the bed's node offer GPUs to the batch system (no GPU exists here: the system counts
   * them, the job's prologue sets the CUDA_VISIBLE_DEVICES a site's GPU binding would); undone by
   * the result. Only for systems that have GPU resources built in.
   */
  prepareGpus?: (bed: Bed) => Promise<() => Promise<void>>;
}

/** Everything a job-queue test cluster gets from its bed. */
function bedOptions(bed: Bed, spec: SuiteSpec): Partial<JobQueueOptions> {
  return {
    env: bed.env,
    schedulerOptions: { host: bed.schedulerHost },
    interface: spec.workerInterface,
    logDirectory: path.join(bed.workDir, 'logs'),
    deathTimeout: 20,
  };
}

export function jobQueueSuite(spec: SuiteSpec): void {
  describeBed(`${spec.kind} job-queue cluster`, spec.kind, (bed) => {
    let home = '';
    let cluster: JobQueueCluster | null = null;
    let client: Client | null = null;

    const start = async (extra: Partial<JobQueueOptions> = {}): Promise<JobQueueCluster> => {
      cluster = await START[spec.kind]({
        cores: 1,
        memory: '1GB',
        walltime: '00:10:00',
        ...bedOptions(bed, spec),
        ...extra,
      } as JobQueueOptions);
      return cluster;
    };
    const ours = async (c: JobQueueCluster) => {
      const ids = new Set((await c.jobs()).map((j) => j.id));
      return (await bed.queued()).filter((id) => ids.has(id));
    };

    beforeAll(() => {
      // Ledgers, scheduler files and default logs go here, not into root's ~/.mpi-cluster.
      home = fs.mkdtempSync(path.join(bed.workDir, 'home-'));
      process.env.MPI_CLUSTER_HOME = home;
    });
    afterAll(() => {
      delete process.env.MPI_CLUSTER_HOME;
    });
    const closeBoth = async () => {
      await client?.close().catch(() => undefined);
      await cluster?.close();
      client = null;
      cluster = null;
    };
    afterEach(closeBoth, 60_000);

    /** Runs a test body; a failure carries the cluster's jobs and the bed's logs. */
    const check = (body: () => Promise<void>) => async () => {
      try {
        await body();
      } catch (err) {
        const e = err as Error;
        const jobs = cluster ? JSON.stringify(await cluster.jobs().catch(() => []), null, 1) : '';
        e.message = `${e.message}\n\njobs: ${jobs}\n${await bed.diagnostics()}`;
        throw e;
      }
    };
    /** check(), with the bed changed by `prepare` meanwhile: undone after the cluster closed. */
    const checkPrepared = (
      prepare: ((bed: Bed) => Promise<() => Promise<void>>) | undefined,
      body: () => Promise<void>,
    ) =>
      check(async () => {
        const undo = (await prepare?.(bed)) ?? (async () => undefined);
        try {
          await body();
        } finally {
          await closeBoth();
          await undo();
        }
      });

    if (spec.tutorial) {
      test(
        "the tutorial's call: its script is submitted as rendered, a worker registers and computes",
        checkPrepared(spec.prepareTutorial, async () => {
          cluster = await START[spec.kind](spec.tutorial!(bed));
          await cluster.scale(1);
          await cluster.waitForWorkers(1, 120_000);
          client = await Client.connect(cluster);
          expect(await client.submit((x: number) => x + 1, 41).result()).toBe(42);
          const [job] = await cluster.jobs();
          expect(job).toMatchObject({ state: 'running' });
          expect(job.workers).toHaveLength(1);
        }),
        240_000,
      );
    }

    test(
      'scale(2): two jobs, two workers, a map computed; close() leaves no job queued',
      check(async () => {
        const c = await start();
        await c.scale(2);
        const pending = await c.jobs();
        expect(pending).toHaveLength(2);
        // Until a worker registers, nothing is counted as running workers.
        expect(c.workerCount).toBeLessThanOrEqual(
          pending.filter((j) => j.state === 'running').length,
        );
        await c.waitForWorkers(2, 120_000);
        client = await Client.connect(c);
        const xs = Array.from({ length: 200 }, (_, i) => i);
        expect(await client.gather(client.map((x: number) => x * x, xs))).toEqual(
          xs.map((x) => x * x),
        );
        const jobs = await c.jobs();
        expect(jobs.map((j) => [j.state, j.workers.length])).toEqual([
          ['running', 1],
          ['running', 1],
        ]);
        const ids = jobs.map((j) => j.id);
        await client.close();
        client = null;
        await c.close();
        cluster = null;
        const left = (await bed.queued()).filter((id) => ids.includes(id));
        expect(left).toEqual([]);
      }),
      240_000,
    );

    test(
      'scale({ jobs: 2 }) with processes: 2 runs four workers of cores / processes threads',
      check(async () => {
        const c = await start({ cores: 2, processes: 2, memory: '2GB' });
        await c.scale({ jobs: 2 });
        await c.waitForWorkers(4, 120_000);
        client = await Client.connect(c);
        const info = await client.schedulerInfo();
        const workers = Object.values(info.workers);
        expect(workers).toHaveLength(4);
        expect(workers.every((w) => w.nthreads === 1)).toBe(true);
        expect(new Set(workers.map((w) => w.memoryLimit))).toEqual(new Set([1e9]));
        const jobs = await c.jobs();
        expect(jobs.map((j) => j.workers.length)).toEqual([2, 2]);
        expect(await client.gather(client.map((x: number) => x + 1, [1, 2, 3, 4]))).toEqual([
          2, 3, 4, 5,
        ]);
      }),
      240_000,
    );

    if (spec.prepareGpus) {
      test(
        'gpus: 2 asks the batch system for two GPUs a job; one worker per GPU, its own first, { GPU: 1 }',
        checkPrepared(spec.prepareGpus, async () => {
          const c = await start({
            cores: 2,
            memory: '2GB',
            gpus: 2,
            jobScriptPrologue: ['export CUDA_VISIBLE_DEVICES=0,1'],
          });
          await c.scale({ jobs: 1 });
          await c.waitForWorkers(2, 120_000);
          client = await Client.connect(c);
          const workers = Object.values((await client.schedulerInfo()).workers);
          expect(workers.map((w) => w.resources)).toEqual([{ GPU: 1 }, { GPU: 1 }]);
          const seen = await client.gather(
            workers.map((w) =>
              client!.submitWith(
                { workers: [w.name], resources: { GPU: 1 } },
                () => `${process.env.CUDA_VISIBLE_DEVICES}`,
              ),
            ),
          );
          expect(seen.sort()).toEqual(['0,1', '1,0']);
          const [job] = await c.jobs();
          expect(job).toMatchObject({ state: 'running' });
        }),
        240_000,
      );
    }

    test(
      'adapt grows under a long map and shrinks to zero when idle, by whole jobs; nothing lost',
      check(async () => {
        const c = await start();
        c.adapt({ minimum: 0, maximum: 3, interval: 300, waitCount: 3 });
        client = await Client.connect(c);
        const xs = Array.from({ length: 60 }, (_, i) => i);
        const fs_ = client.map(
          (x: number) => new Promise<number>((r) => setTimeout(() => r(x * 3), 300)),
          xs,
        );
        // It grows: more than one worker while the map runs.
        await until(
          'adapt to run more than one worker',
          () => (c.workerCount > 1 ? true : undefined),
          120_000,
          200,
        );
        expect(await client.gather(fs_)).toEqual(xs.map((x) => x * 3));
        for (const f of fs_) f.release();
        // Idle: every job goes, cancelled by the cluster, and no worker is left.
        await until(
          'adapt to end every job once idle',
          async () =>
            (await c.jobs()).every((j) => j.state !== 'pending' && j.state !== 'running')
              ? true
              : undefined,
          120_000,
          500,
        );
        expect(c.workerCount).toBe(0);
        const jobs = await c.jobs();
        expect(jobs.length).toBeGreaterThan(1);
        expect(jobs.length).toBeLessThanOrEqual(3 + 1); // no thrashing: at most one job beyond the maximum's
        expect(await ours(c)).toEqual([]);
      }),
      300_000,
    );

    test(
      'a job that reaches its walltime is replaced before it is killed, and its results are kept',
      check(async () => {
        const c = await start({ walltime: spec.shortWalltime });
        await c.scale(1);
        await c.waitForWorkers(1, 120_000);
        client = await Client.connect(c);
        // Results held on the first job's worker, each naming the process that computed it: a
        // result recomputed after the job's end would name another.
        const held = client.map((x: number) => `${x} from ${process.pid}`, [1, 2, 3]);
        const before = await client.gather(held);
        const [first] = await c.jobs();
        await until(
          `job ${first.id} to be replaced at its walltime`,
          async () => {
            const jobs = await c.jobs();
            const old = jobs.find((j) => j.id === first.id)!;
            const next = jobs.find(
              (j) => j.id !== first.id && j.state === 'running' && j.workers.length > 0,
            );
            return old.state !== 'running' && next ? true : undefined;
          },
          spec.walltimeWaitMs,
          500,
        );
        expect(await client.gather(held)).toEqual(before);
        expect(await client.submit((x: number) => x * 2, 21).result()).toBe(42);
      }),
      spec.walltimeWaitMs + 120_000,
    );

    test(
      'a job whose worker cannot start (a bad node path) is reported failed, with its output',
      check(async () => {
        const c = await start({ node: '/nonexistent/bin/node' });
        await c.scale(1);
        const err = await c.waitForWorkers(1, 120_000).catch((e: Error) => e);
        expect(err).toMatchObject({ code: 'ERR_JOB_FAILED' });
        expect((err as Error).message).toMatch(/nonexistent\/bin\/node/);
        const [job] = await c.jobs();
        expect(job.output).toMatch(/nonexistent\/bin\/node/);
        expect(job.workers).toEqual([]);
      }),
      180_000,
    );

    test(
      'a client SIGKILLed mid-run leaves jobs that mpi-cluster-jobs cleanup cancels; a SIGTERMed one cancels its own',
      check(async () => {
        for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
          const owner = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'owner.js')], {
            env: {
              ...process.env,
              MPI_CLUSTER_HOME: home,
              OWNER_KIND: spec.kind,
              OWNER_OPTIONS: JSON.stringify({
                cores: 1,
                memory: '1GB',
                walltime: '00:10:00',
                ...bedOptions(bed, spec),
              }),
            },
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          let out = '';
          owner.stdout.on('data', (d: Buffer) => (out += d.toString()));
          const ids = await until(
            'the owner to report its running jobs',
            () => /^JOBS (.+)$/m.exec(out)?.[1].split(' '),
            120_000,
            200,
          );
          const exited = new Promise<number | null>((r) =>
            owner.on('exit', (code, sig) => r(code ?? (sig ? 128 : null))),
          );
          owner.kill(signal);
          await exited;
          if (signal === 'SIGKILL') {
            expect((await bed.queued()).filter((id) => ids.includes(id))).toEqual(ids); // left behind
            const r = await new Promise<string>((resolve) => {
              const p = spawn(process.execPath, [JOBS_CLI, 'cleanup'], {
                env: { ...process.env, MPI_CLUSTER_HOME: home },
              });
              let text = '';
              p.stdout.on('data', (d: Buffer) => (text += d.toString()));
              p.on('exit', () => resolve(text));
            });
            expect(r).toContain(`cancelled ${ids.join(' ')}`);
          }
          await until(
            `jobs ${ids.join(' ')} of the ${signal}ed client to leave the queue`,
            async () => ((await bed.queued()).some((id) => ids.includes(id)) ? undefined : true),
            60_000,
            500,
          );
        }
      }),
      300_000,
    );
  });
}
