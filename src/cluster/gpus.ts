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
 * The GPUs to use, looked for as dask-cuda does: the `cudaVisibleDevices` option, else
 * CUDA_VISIBLE_DEVICES (a launcher or the batch system set it), else `nvidia-smi -L`. No GPU at
 * all is ERR_NO_GPU, saying where it looked.
 */
export function visibleGpus(
  option?: string | (string | number)[],
  env: NodeJS.ProcessEnv = process.env,
  nvidiaSmi = 'nvidia-smi',
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
  throw new ClusterError(
    'ERR_NO_GPU',
    `no GPU found: no cudaVisibleDevices option, CUDA_VISIBLE_DEVICES ${fromEnv === undefined ? 'not set' : `is "${fromEnv}"`}, and ${smi}. Give cudaVisibleDevices (e.g. '0,1') if the GPUs are there.`,
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
 * Pins an MPI worker rank to one GPU by its node-local rank: the rank's GPU is visible GPU number
 * (local rank modulo their count), and it comes first in CUDA_VISIBLE_DEVICES. A launcher that
 * gave the rank one GPU of its own (srun --gpus-per-task=1) is honoured: that GPU it is.
 */
export function pinGpu(localRank: number, env: NodeJS.ProcessEnv = process.env): PinnedGpu {
  const gpus = visibleGpus(undefined, env);
  const i = localRank % gpus.devices.length;
  return {
    device: gpus.devices[i],
    count: gpus.devices.length,
    visible: rotated(gpus.devices, i),
    source: gpus.source,
  };
}
