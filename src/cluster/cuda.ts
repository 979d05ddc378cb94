import { OptionError } from '../errors';
import { log } from '../log';
import { rotated, visibleGpus } from './gpus';
import { LOCAL_CLUSTER_OPTIONS, LocalCluster, type LocalClusterOptions } from './local';

/** LocalCluster's options (`nWorkers` at most one per GPU) and the GPUs to use. */
export interface LocalCUDAClusterOptions extends LocalClusterOptions {
  /** The GPUs to use, e.g. '0,1' or [0, 1]. Default: CUDA_VISIBLE_DEVICES, else `nvidia-smi -L`. */
  cudaVisibleDevices?: string | (string | number)[];
}

const KNOWN = ['cudaVisibleDevices', ...LOCAL_CLUSTER_OPTIONS];

/**
 * A LocalCluster with one worker per GPU, as dask-cuda's LocalCUDACluster: worker i sees
 * CUDA_VISIBLE_DEVICES rotated so its own GPU comes first, is named after it (gpu-<device>), and
 * offers { GPU: 1 }, so tasks submitted with resources { GPU: 1 } run one per GPU.
 */
export class LocalCUDACluster {
  static async start(options: LocalCUDAClusterOptions = {}): Promise<LocalCluster> {
    for (const k of Object.keys(options)) {
      if (!KNOWN.includes(k)) {
        throw new OptionError(`unknown LocalCUDACluster option "${k}"; known: ${KNOWN.join(', ')}`);
      }
    }
    const { cudaVisibleDevices, nWorkers, ...rest } = options;
    const gpus = visibleGpus(cudaVisibleDevices);
    const n = nWorkers ?? gpus.devices.length;
    if (!Number.isInteger(n) || n < 1) {
      throw new OptionError(`nWorkers must be a positive integer, got ${JSON.stringify(nWorkers)}`);
    }
    if (n > gpus.devices.length) {
      throw new OptionError(
        `nWorkers ${n} is more than the ${gpus.devices.length} GPU(s) found (${gpus.devices.join(', ')}, from ${gpus.source}): one worker per GPU`,
      );
    }
    log.info(
      `LocalCUDACluster: ${n} worker(s) on GPU(s) ${gpus.devices.slice(0, n).join(', ')} (from ${gpus.source})`,
    );
    return LocalCluster.startWith({ ...rest, nWorkers: n }, (i) => {
      if (i >= gpus.devices.length) {
        throw new OptionError(
          `LocalCUDACluster has ${gpus.devices.length} GPU(s): one worker each`,
        );
      }
      return {
        name: `gpu-${gpus.devices[i]}`,
        env: { CUDA_VISIBLE_DEVICES: rotated(gpus.devices, i) },
        resources: { GPU: 1 },
      };
    });
  }
}
