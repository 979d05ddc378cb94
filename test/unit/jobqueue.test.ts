import { spawnSync } from 'node:child_process';
import { adaptBounds, adaptTarget, jobsToSubmit } from '../../src/jobqueue/adapt';
import { parseBytes, parseWalltime, resolveJobOptions } from '../../src/jobqueue/options';
import { jobOfWorker, renderJobScript, workerName } from '../../src/jobqueue/script';
import { GADI, LEONARDO } from '../fixtures/tutorials';

const paths = {
  schedulerFile: '/home/u/.mpi-cluster/c/scheduler.json',
  logDirectory: '/home/u/logs',
};
const directives = (script: string, prefix: string) =>
  script.split('\n').filter((l) => l.startsWith(`${prefix} `));

/** The script parses as sh and bash (the shebang a user picks may be either). */
function expectValidShell(script: string): void {
  for (const sh of ['sh', 'bash']) {
    const r = spawnSync(sh, ['-n'], { input: script, encoding: 'utf8' });
    expect({ sh, stderr: r.stderr, status: r.status }).toEqual({ sh, stderr: '', status: 0 });
  }
}

describe('job-queue options', () => {
  test('sizes: GB is 1e9 bytes and GiB 2^30, as in Dask; nonsense is refused with the fix', () => {
    expect(parseBytes('16GB')).toBe(16e9);
    expect(parseBytes('16GiB')).toBe(16 * 2 ** 30);
    expect(parseBytes('1.5 TB')).toBe(1.5e12);
    expect(parseBytes(4096)).toBe(4096);
    expect(() => parseBytes('16 gigs')).toThrow(/'16GB'/);
    expect(() => parseBytes('0GB')).toThrow();
  });

  test('walltime: HH:MM:SS, MM:SS and D-HH:MM:SS; anything else refused', () => {
    expect(parseWalltime('00:30:00')).toBe(1800);
    expect(parseWalltime('05:00')).toBe(300);
    expect(parseWalltime('1-02:00:00')).toBe(93600);
    expect(() => parseWalltime('30m')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    );
    expect(() => parseWalltime('00:00:00')).toThrow(/longer than zero/);
  });

  test('an unknown option is refused with the known ones listed; per system', () => {
    expect(() =>
      resolveJobOptions('slurm', { cores: 1, memory: '1GB', resourceSpec: 'x' } as never),
    ).toThrow(/unknown SLURMCluster option "resourceSpec"; known: cores, memory/);
    expect(() =>
      resolveJobOptions('pbs', { cores: 1, memory: '1GB', jobMem: '1G' } as never),
    ).toThrow(/unknown PBSCluster option "jobMem"/);
    expect(() => resolveJobOptions('sge', { cores: 1 } as never)).toThrow(
      /cores and memory are required/,
    );
    expect(() => resolveJobOptions('slurm', { cores: 2, memory: '1GB', processes: 3 })).toThrow(
      /processes \(3\) cannot exceed cores \(2\)/,
    );
    expect(() =>
      resolveJobOptions('slurm', {
        cores: 1,
        memory: '1GB',
        schedulerOptions: { iface: 'x' } as never,
      }),
    ).toThrow(/unknown schedulerOptions field "iface"/);
  });

  test('threads per worker are cores / processes, memory per worker memory / processes', () => {
    const o = resolveJobOptions('pbs', { cores: 8, processes: 4, memory: '16GB' });
    expect([o.threadsPerWorker, o.workerMemoryBytes]).toEqual([2, 4e9]);
  });
});

describe('job scripts', () => {
  test("memoryThresholds become the worker CLI's --memory-* flags; bad ones are refused", () => {
    const o = resolveJobOptions('slurm', {
      cores: 1,
      memory: '1GB',
      memoryThresholds: { target: 0.5, terminate: false },
    });
    expect(renderJobScript(o, paths)).toMatch(/--memory-target 0\.5 --memory-terminate false/);
    expect(() =>
      resolveJobOptions('sge', { cores: 1, memory: '1GB', memoryThresholds: { pause: 3 } }),
    ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  });

  test('the Leonardo SLURMCluster call of the tutorial', () => {
    const o = resolveJobOptions('slurm', LEONARDO);
    const script = renderJobScript(o, paths);
    expect(directives(script, '#SBATCH')).toEqual([
      '#SBATCH -J mpi-worker',
      '#SBATCH -A cin_staff',
      '#SBATCH -n 1',
      '#SBATCH --cpus-per-task=1',
      '#SBATCH --mem=15259M',
      '#SBATCH -t 00:30:00',
      '#SBATCH -o /home/u/logs/%x-%j.out',
      '#SBATCH -e /home/u/logs/%x-%j.err',
      '#SBATCH --tasks-per-node=1',
    ]);
    // --mem and --memory-limit side by side, so GB against GiB is visible.
    expect(script).toContain('15259M (MiB, 16.00 GB = 14.90 GiB)');
    expect(script).toContain('--memory-limit 16000000000 bytes (16.00 GB = 14.90 GiB)');
    expect(script).toMatch(
      /--name "mpi-worker-\$\{SLURM_JOB_ID\}-\$i" --scheduler-file \/home\/u\/\.mpi-cluster\/c\/scheduler\.json --nthreads 1 --memory-limit 16000000000 .*--interface ib0/,
    );
    expectValidShell(script);
  });

  test('the Gadi PBSCluster call of the tutorial: select skipped, extra directives as given', () => {
    const o = resolveJobOptions('pbs', GADI);
    const script = renderJobScript(o, paths);
    expect(directives(script, '#PBS')).toEqual([
      '#PBS -N mpi-worker',
      '#PBS -l walltime=00:20:00',
      '#PBS -o /home/u/logs/',
      '#PBS -e /home/u/logs/',
      '#PBS -q normal',
      '#PBS -P vp91',
      '#PBS -l ncpus=48',
      '#PBS -l mem=192GB',
    ]);
    expect(script.split('\n')[0]).toBe('#!/usr/bin/env bash');
    expect(script).toContain('module load nodejs/20\nNODE=/apps/node/bin/node');
    expect(script).toContain('--local-directory "$TMPDIR"'); // expanded on the compute node
    expect(script).toContain('no memory directive is generated');
    expectValidShell(script);
  });

  test('PBS select carries cores and memory (PBS mb = MiB, rounded up); SGE uses -P, h_rt, -cwd, -j y', () => {
    const pbs = renderJobScript(
      resolveJobOptions('pbs', { cores: 2, memory: '1GB', account: 'a1', queue: 'q1' }),
      paths,
    );
    expect(directives(pbs, '#PBS')).toContain('#PBS -l select=1:ncpus=2:mem=954mb');
    expect(directives(pbs, '#PBS')).toContain('#PBS -A a1');
    const sge = renderJobScript(
      resolveJobOptions('sge', {
        cores: 4,
        processes: 2,
        memory: '8GiB',
        account: 'proj',
        resourceSpec: 'h_vmem=4G',
        walltime: '01:00:00',
      }),
      paths,
    );
    expect(directives(sge, '#$')).toEqual([
      '#$ -N mpi-worker',
      '#$ -P proj',
      '#$ -l h_vmem=4G',
      '#$ -l h_rt=01:00:00',
      '#$ -cwd',
      '#$ -j y',
      '#$ -o /home/u/logs/',
    ]);
    expect(sge).toContain('for i in $(seq 0 1); do'); // two workers a job
    expect(sge).toContain('--nthreads 2 --memory-limit 4294967296');
    expectValidShell(sge);
  });

  test('jobDirectivesSkip removes generated lines only; nothing secret or unquoted in the script', () => {
    const o = resolveJobOptions('slurm', {
      cores: 1,
      memory: '1GB',
      jobDirectivesSkip: ['--mem', '-e '],
      jobExtraDirectives: ['--mem=2G'],
      workerExtraArgs: ['--resources', 'GPU=1 MEM=2', "it's"],
    });
    const script = renderJobScript(o, paths);
    expect(directives(script, '#SBATCH').filter((l) => l.includes('--mem'))).toEqual([
      '#SBATCH --mem=2G',
    ]);
    expect(directives(script, '#SBATCH').some((l) => l.startsWith('#SBATCH -e '))).toBe(false);
    expect(script).toContain(`--resources 'GPU=1 MEM=2' 'it'\\''s'`);
    expect(script).not.toMatch(/secret|publicKey|MPI_CLUSTER_KEYS/i);
    expectValidShell(script);
  });

  test('gpus: the directive of each system, one worker per GPU, each started with --gpu i', () => {
    const base = { cores: 4, memory: '8GB', gpus: 2 };
    const slurm = renderJobScript(resolveJobOptions('slurm', base), paths);
    expect(directives(slurm, '#SBATCH')).toContain('#SBATCH --gres=gpu:2');
    const pbs = renderJobScript(resolveJobOptions('pbs', base), paths);
    expect(directives(pbs, '#PBS')).toContain('#PBS -l select=1:ncpus=4:mem=7630mb:ngpus=2');
    const sge = renderJobScript(resolveJobOptions('sge', base), paths);
    expect(directives(sge, '#$')).toContain('#$ -l gpu=2');
    for (const script of [slurm, pbs, sge]) {
      expect(script).toContain('for i in $(seq 0 1); do');
      expect(script).toMatch(
        /--name "mpi-worker-\$\{\w+\}-\$i" --gpu "\$i" --scheduler-file \S+ --nthreads 2 /,
      );
      expectValidShell(script);
    }
    expect(resolveJobOptions('slurm', base).processes).toBe(2);
    expect(() => resolveJobOptions('slurm', { ...base, processes: 1 })).toThrow(
      /one worker per GPU: leave out processes \(1\) or make it 2/,
    );
    expect(() => resolveJobOptions('pbs', { ...base, gpus: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    );
    // Without gpus nothing about GPUs is written.
    expect(
      renderJobScript(resolveJobOptions('slurm', { cores: 1, memory: '1GB' }), paths),
    ).not.toMatch(/gpu/i);
  });

  test('a worker name leads back to its job, also for PBS ids with dots', () => {
    expect(jobOfWorker('mpi-worker', workerName('mpi-worker', '12.pbshead', 3))).toBe('12.pbshead');
    expect(jobOfWorker('mpi-worker', workerName('mpi-worker', '4711', 0))).toBe('4711');
    expect(jobOfWorker('mpi-worker', 'local-0')).toBeNull();
    expect(jobOfWorker('other', workerName('mpi-worker', '1', 0))).toBeNull();
  });
});

describe('adapt', () => {
  const load = { threadsPerWorker: 2, processes: 2, jobs: 0 };

  test('bounds in workers become whole jobs; both kinds at once, or min above max, refused', () => {
    expect(adaptBounds({ minimum: 3, maximum: 9 }, 2)).toMatchObject({
      minimumJobs: 2,
      maximumJobs: 4,
    });
    expect(adaptBounds({}, 2)).toMatchObject({
      minimumJobs: 0,
      maximumJobs: Infinity,
      waitCount: 3,
    });
    expect(() => adaptBounds({ minimum: 1, minimumJobs: 1 }, 1)).toThrow(/not both/);
    expect(() => adaptBounds({ minimumJobs: 3, maximumJobs: 2 }, 1)).toThrow(/above the maximum/);
    expect(() => adaptBounds({ maximum: -1 }, 1)).toThrow(/non-negative integer/);
    expect(() => adaptBounds({ max: 3 } as never, 1)).toThrow(/unknown adapt option "max"/);
  });

  test('grows at once to cover the unfinished tasks, within the maximum', () => {
    const b = adaptBounds({ maximumJobs: 5 }, 2);
    expect(adaptTarget({ ...load, unfinished: 10 }, b, 0)).toEqual({ jobs: 3, below: 0 });
    expect(adaptTarget({ ...load, unfinished: 1_000_000 }, b, 0)).toEqual({ jobs: 5, below: 0 });
  });

  test('shrinks only after waitCount looks in a row wanted fewer, and never below the minimum', () => {
    const b = adaptBounds({ minimumJobs: 1, waitCount: 3 }, 2);
    let below = 0;
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = adaptTarget({ ...load, jobs: 4, unfinished: 0 }, b, below);
      below = t.below;
      seen.push(t.jobs);
    }
    expect(seen).toEqual([4, 4, 1]);
    // A busy look in between starts the count again.
    expect(adaptTarget({ ...load, jobs: 4, unfinished: 16 }, b, 2)).toEqual({ jobs: 4, below: 0 });
  });

  test('never more jobs waiting in the queue than maximumPendingJobs', () => {
    expect(jobsToSubmit(20, 0, 0, 5)).toBe(5); // 20 wanted, 5 may wait
    expect(jobsToSubmit(20, 5, 5, 5)).toBe(0); // five wait already
    expect(jobsToSubmit(20, 8, 2, 5)).toBe(3); // six run, two wait
    expect(jobsToSubmit(3, 4, 0, Infinity)).toBe(0); // above the target: nothing
    expect(jobsToSubmit(4, 1, 1, Infinity)).toBe(3);
  });
});
