import { spawnSync } from 'node:child_process';
import { ClusterError, OptionError } from '../errors';

/** The GPUs a cluster may use, and how they were found (said in errors and logs). */
export interface VisibleGpus {
  devices: string[];
  source: string;
}

function parseList(text: string): string[] {
  return text
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '');
}

/**
 * Who looks for GPUs, for what ERR_NO_GPU advises: each can be given them another way.
 * 'LocalCUDACluster': its cudaVisibleDevices option. 'mpi': a worker rank of initialize({ gpus:
 * true }) or mpi-init --gpus, whose GPUs come from the launcher's environment. 'worker': the
 * worker CLI's --gpu (also what a job-queue cluster with gpus runs).
 */
export type GpuSeeker = 'LocalCUDACluster' | 'mpi' | 'worker';

const NO_GPU_ADVICE: Record<GpuSeeker, string> = {
  LocalCUDACluster: "Give cudaVisibleDevices (e.g. '0,1') if the GPUs are there.",
  mpi: 'If the GPUs are there, set CUDA_VISIBLE_DEVICES for the ranks (export it before srun or mpiexec, with Open MPI add -x CUDA_VISIBLE_DEVICES to mpirun, or let Slurm set it: srun --gpus-per-task=1); else leave out --gpus (gpus: true).',
  worker:
    'If the GPUs are there, set CUDA_VISIBLE_DEVICES for the worker (e.g. CUDA_VISIBLE_DEVICES=0,1 mpi-cluster-worker ... --gpu 0); else leave out --gpu (a job-queue cluster adds it for its gpus option).',
};

/**
 * The GPUs to use, looked for as dask-cuda does: the `cudaVisibleDevices` option, else
 * CUDA_VISIBLE_DEVICES (a launcher or the batch system set it), else `nvidia-smi -L`. No GPU at
 * all is ERR_NO_GPU, saying where it looked and, for `seeker`, how to give the GPUs.
 */
export function visibleGpus(
  option?: string | (string | number)[],
  env: NodeJS.ProcessEnv = process.env,
  {
    seeker = 'LocalCUDACluster',
    nvidiaSmi = 'nvidia-smi',
  }: { seeker?: GpuSeeker; nvidiaSmi?: string } = {},
): VisibleGpus {
  if (option !== undefined) {
    const devices = Array.isArray(option) ? option.map(String) : parseList(option);
    if (devices.length === 0 || devices.some((d) => !/^[\w-]+$/.test(d))) {
      throw new OptionError(
        `cudaVisibleDevices ${JSON.stringify(option)}: give device indices or UUIDs, e.g. '0,1' or [0, 1]`,
      );
    }
    return { devices, source: 'the cudaVisibleDevices option' };
  }
  const fromEnv = env.CUDA_VISIBLE_DEVICES;
  if (fromEnv !== undefined) {
    const devices = parseList(fromEnv).filter((d) => d !== '-1');
    if (devices.length > 0) return { devices, source: 'CUDA_VISIBLE_DEVICES' };
  }
  const r = spawnSync(nvidiaSmi, ['-L'], { encoding: 'utf8', timeout: 15_000, env });
  const listed = r.status === 0 ? [...r.stdout.matchAll(/^GPU (\d+):/gm)].map((m) => m[1]) : [];
  if (listed.length > 0) return { devices: listed, source: '`nvidia-smi -L`' };
  const smi = r.error
    ? `${nvidiaSmi} is not on PATH`
    : r.status !== 0
      ? `${nvidiaSmi} -L failed (exit ${r.status}): ${(r.stderr || r.stdout).trim()}`
      : `${nvidiaSmi} -L listed no GPU`;
  const looked = [
    ...(seeker === 'LocalCUDACluster' ? ['no cudaVisibleDevices option'] : []),
    `CUDA_VISIBLE_DEVICES ${fromEnv === undefined ? 'not set' : `is "${fromEnv}"`}`,
  ].join(', ');
  throw new ClusterError(
    'ERR_NO_GPU',
    `no GPU found: ${looked}, and ${smi}. ${NO_GPU_ADVICE[seeker]}`,
  );
}

/** Worker i's CUDA_VISIBLE_DEVICES: its own device first, then the others (as dask-cuda does). */
export function rotated(devices: string[], i: number): string {
  return [...devices.slice(i), ...devices.slice(0, i)].join(',');
}

/** The node-local rank the launcher set: Open MPI, MPICH's Hydra, or Slurm's srun; else null. */
export function launcherLocalRank(env: NodeJS.ProcessEnv = process.env): number | null {
  for (const name of ['OMPI_COMM_WORLD_LOCAL_RANK', 'MPI_LOCALRANKID', 'SLURM_LOCALID']) {
    const v = env[name];
    if (v !== undefined && /^\d+$/.test(v)) return Number(v);
  }
  return null;
}

/** The GPU of an MPI worker rank, and the CUDA_VISIBLE_DEVICES it runs with. */
export interface PinnedGpu {
  device: string;
  /** How many GPUs the rank could see. */
  count: number;
  visible: string;
  source: string;
}

/**
 * Pins an MPI worker rank to one GPU by its node-local rank (the worker CLI's --gpu I too, with
 * `seeker` 'worker'): the rank's GPU is visible GPU number (local rank modulo their count), and it
 * comes first in CUDA_VISIBLE_DEVICES. A launcher that gave the rank one GPU of its own
 * (srun --gpus-per-task=1) is honoured: that GPU it is.
 */
export function pinGpu(
  localRank: number,
  env: NodeJS.ProcessEnv = process.env,
  seeker: Exclude<GpuSeeker, 'LocalCUDACluster'> = 'mpi',
): PinnedGpu {
  const gpus = visibleGpus(undefined, env, { seeker });
  const i = localRank % gpus.devices.length;
  return {
    device: gpus.devices[i],
    count: gpus.devices.length,
    visible: rotated(gpus.devices, i),
    source: gpus.source,
  };
}
