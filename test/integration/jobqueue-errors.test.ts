import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SGECluster, SLURMCluster } from '../../src';
import { runCli } from '../helpers/cluster';

/**
 * A job-queue cluster's errors that need no batch system: each says what failed and what to
 * check. (The clusters against real Slurm, OpenPBS and SGE are in test/jobqueue.)
 */
let home: string;
beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'jq-home-'));
  process.env.MPI_CLUSTER_HOME = home;
});
afterEach(() => {
  delete process.env.MPI_CLUSTER_HOME;
  fs.rmSync(home, { recursive: true, force: true });
});

const here = { host: '127.0.0.1' };

test('scale() on a machine without sbatch fails with ERR_BATCH naming the command', async () => {
  const cluster = await SLURMCluster.start({
    cores: 1,
    memory: '1GB',
    env: { PATH: '/nonexistent' },
    schedulerOptions: here,
  });
  try {
    await expect(cluster.scale(1)).rejects.toMatchObject({
      code: 'ERR_BATCH',
      message: expect.stringMatching(/sbatch .*command not found on PATH.*SLURM_CONF/),
    });
    expect(await cluster.jobs()).toEqual([]);
  } finally {
    await cluster.close();
  }
});

test('an interface the login node lacks, without schedulerOptions: the error says to give them', async () => {
  await expect(
    SGECluster.start({ cores: 1, memory: '1GB', interface: 'nosuch0' }),
  ).rejects.toMatchObject({
    code: 'ERR_INTERFACE_NOT_FOUND',
    message: expect.stringContaining('schedulerOptions: { interface } or { host }'),
  });
});

test('scale() refuses what is not a count', async () => {
  const cluster = await SGECluster.start({ cores: 1, memory: '1GB', schedulerOptions: here });
  try {
    await expect(cluster.scale(-1)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    await expect(cluster.scale({ jobs: 1.5 })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
    expect(() => cluster.adapt({ maximum: 2, maximumJobs: 2 })).toThrow(/not both/);
  } finally {
    await cluster.close();
  }
  expect(() => cluster.adapt()).toThrow(expect.objectContaining({ code: 'ERR_CLIENT_CLOSED' }));
});

test('mpi-cluster-jobs: --help, list and cleanup with nothing to do', async () => {
  const env = { ...process.env, MPI_CLUSTER_HOME: home };
  const help = await runCli('cli/jobs.js', ['--help'], { env });
  expect(help.stdout).toMatch(/cleanup .*cancel the jobs of clusters whose process is gone/);
  expect((await runCli('cli/jobs.js', ['list'], { env })).stdout).toBe(
    'no job-queue clusters with jobs\n',
  );
  expect((await runCli('cli/jobs.js', ['cleanup'], { env })).stdout).toBe('nothing to clean up\n');
  const bad = await runCli('cli/jobs.js', ['cleanup', '--system', 'lsf'], { env });
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toMatch(/Allowed choices are slurm, pbs, sge/);
});
