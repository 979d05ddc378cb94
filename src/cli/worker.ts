#!/usr/bin/env node
import { Command } from 'commander';
import { readSchedulerFile, type SchedulerFileContent } from '../cluster/scheduler-file';
import { pinGpu } from '../cluster/gpus';
import { log } from '../log';
import { handshakeRefused } from '../client/handshake';
import { KEYS_ENV, parseKeys, type ClusterKeys } from '../net/security';
import { ClusterError, OptionError } from '../errors';
import { NANNY_ENV, WORKER_DEFAULTS } from '../worker/options';
import { runNanny } from './nanny';
import { Worker } from '../worker/worker';
import { defaultWorkerParent } from '../worker/directory';
import { formatDuration } from '../util/duration';
import {
  WORKER_BIND_DEFAULT,
  durationFlag,
  fail,
  intOption,
  memoryThresholdOptions,
  onSignals,
  thresholdsFrom,
  versionFlag,
} from './common';

interface WorkerCliOptions {
  schedulerFile?: string;
  nthreads: number;
  memoryLimit?: string;
  memoryTarget?: string;
  memorySpill?: string;
  memoryPause?: string;
  memoryTerminate?: string;
  localDirectory?: string;
  interface?: string;
  host?: string;
  name?: string;
  /** ms */
  deathTimeout: number;
  /** ms */
  lifetime?: number;
  resources?: string;
  gpu?: number;
  /** commander's --no-security: false when given. */
  security: boolean;
}

function parseResources(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of text.split(/[,\s]+/).filter(Boolean)) {
    const [k, v] = part.split('=');
    const n = Number(v);
    if (!k || !(n >= 0))
      throw new OptionError(`--resources "${text}": write NAME=AMOUNT pairs, e.g. GPU=2,MEM=100e9`);
    out[k] = n;
  }
  return out;
}

/** The wait for the scheduler file is bounded by --death-timeout (ms), as the wait for its answers. */
async function waitForSchedulerFile(
  file: string,
  deathTimeout: number,
): Promise<SchedulerFileContent> {
  try {
    return await readSchedulerFile(file, { timeout: deathTimeout });
  } catch (err) {
    if ((err as ClusterError).code !== 'ERR_TIMEOUT') throw err;
    throw new ClusterError(
      'ERR_TIMEOUT',
      `no scheduler file at ${file} after ${formatDuration(deathTimeout)} (--death-timeout): start mpi-cluster-scheduler with --scheduler-file ${file}, or wait longer with a larger --death-timeout`,
      { cause: err },
    );
  }
}

/**
 * Resolves once the worker registered, or once it closed. A scheduler that refuses the
 * worker's handshake (security on one side only, or other keys) rejects with ERR_SECURITY saying
 * which, instead of a worker that waits out its death timeout with nothing heard.
 */
async function registeredOrRefused(w: Worker, keys: ClusterKeys | null): Promise<void> {
  const scheduler = w.options.scheduler;
  const probe = handshakeRefused(scheduler, keys);
  try {
    await Promise.race([w.registered, w.closed, probe.promise]);
  } catch (err) {
    if ((err as ClusterError).code !== 'ERR_SECURITY') throw err;
    throw new ClusterError(
      'ERR_SECURITY',
      keys
        ? `the scheduler at ${scheduler} refused this worker's CurveZMQ keys: it has other keys (take them from its scheduler file: --scheduler-file FILE, or set ${KEYS_ENV}), or it runs without security (then start the workers with --no-security too)`
        : `the scheduler at ${scheduler} requires CurveZMQ and this worker runs without security (--no-security): give it the scheduler's keys (--scheduler-file FILE, which holds them, or ${KEYS_ENV}), or start both the scheduler and the workers with --no-security`,
      { cause: err },
    );
  } finally {
    probe.stop();
  }
}

export function workerCommand(): Command {
  return memoryThresholdOptions(new Command('mpi-cluster-worker'))
    .description('Run an mpi-cluster worker that connects to a scheduler and runs tasks.')
    .version(...versionFlag())
    .argument('[address]', 'scheduler address, tcp://HOST:PORT (or use --scheduler-file)')
    .option(
      '--scheduler-file <file>',
      'read the scheduler address and keys from this file (waits for it up to --death-timeout)',
    )
    .option(
      '--nthreads <n>',
      'tasks run at once, each on its own thread',
      intOption('--nthreads', 1),
      WORKER_DEFAULTS.nthreads,
    )
    .option(
      '--memory-limit <limit>',
      `'auto' (the host's memory shared by thread count: nthreads / cores of it), bytes, a size such as 4GB, or a fraction such as 0.5 (default: ${WORKER_DEFAULTS.memoryLimit})`,
    )
    .option(
      '--local-directory <dir>',
      `scratch space: each worker makes its own directory in it, removed at exit (default: ${defaultWorkerParent()})`,
    )
    .option(
      '--interface <name>',
      `network interface to serve data on, e.g. ib0 (default: ${WORKER_BIND_DEFAULT})`,
    )
    .option('--host <ip>', 'address to serve data on, instead of --interface')
    .option('--name <name>', 'worker name (default: HOST-PID)')
    .option(
      '--nanny',
      "run the worker in a child process that is started anew when it goes over its memory terminate threshold (as Dask's nanny; default: no nanny, the worker spills everything and recycles its task threads instead)",
    )
    .addOption(
      durationFlag(
        '--death-timeout <duration>',
        'exit when the scheduler is unreachable this long, or its file absent',
        WORKER_DEFAULTS.deathTimeout * 1000,
      ),
    )
    .addOption(
      durationFlag(
        '--lifetime <duration>',
        'retire after this long, handing data to workers that stay; set below a batch walltime',
        'none, the worker runs until stopped',
      ),
    )
    .option('--resources <list>', 'resources offered, e.g. GPU=2 (default: none)')
    .option(
      '--gpu <index>',
      "run on GPU number INDEX of CUDA_VISIBLE_DEVICES (else of nvidia-smi -L): it comes first in the worker's CUDA_VISIBLE_DEVICES, and the worker offers GPU=1 (default: no GPU pinning)",
      intOption('--gpu', 0),
    )
    .option(
      '--no-security',
      'connect without CurveZMQ (only to a scheduler started with --no-security); by default the keys come from --scheduler-file or MPI_CLUSTER_KEYS',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ mpi-cluster-worker tcp://10.0.0.5:40123 --nthreads 4 --memory-limit 16GB
  $ mpi-cluster-worker --scheduler-file ~/sched.json --interface ib0
  $ CUDA_VISIBLE_DEVICES=0,1 mpi-cluster-worker --scheduler-file ~/sched.json --gpu 1`,
    )
    .action(async (address: string | undefined, o: WorkerCliOptions) => {
      try {
        if (!address && !o.schedulerFile) {
          throw new OptionError(
            'give the scheduler address (tcp://HOST:PORT) or --scheduler-file FILE',
          );
        }
        if (address && o.schedulerFile)
          throw new OptionError('give either an address or --scheduler-file, not both');
        const file = o.schedulerFile
          ? await waitForSchedulerFile(o.schedulerFile, o.deathTimeout)
          : null;
        const scheduler = address ?? file!.address;
        // Keys: off if asked, else the file's (a file without them: a scheduler run without
        // security), else MPI_CLUSTER_KEYS (Worker.start reads it; removed after, so tasks do
        // not inherit it).
        const security = !o.security ? false : file ? (file.keys ?? false) : undefined;
        const memoryLimit =
          o.memoryLimit === undefined
            ? undefined
            : /^[0-9.]+$/.test(o.memoryLimit)
              ? Number(o.memoryLimit)
              : o.memoryLimit;
        const resources = o.resources ? parseResources(o.resources) : undefined;
        const gpu = o.gpu === undefined ? null : pinGpu(o.gpu, process.env, 'worker');
        if (gpu) {
          // Tasks (threads, and what they spawn) see it too.
          process.env.CUDA_VISIBLE_DEVICES = gpu.visible;
          log.info(
            `worker on GPU ${gpu.device} (CUDA_VISIBLE_DEVICES=${gpu.visible}, from ${gpu.source})`,
          );
        }
        const starting = Worker.start({
          scheduler,
          nthreads: o.nthreads,
          memoryLimit,
          memoryThresholds: thresholdsFrom(o),
          localDirectory: o.localDirectory,
          interface: o.interface,
          host: o.host,
          name: o.name,
          // The worker's options are in seconds.
          deathTimeout: o.deathTimeout / 1000,
          lifetime: o.lifetime === undefined ? undefined : o.lifetime / 1000,
          resources: gpu ? { ...resources, GPU: 1 } : resources,
          security,
        });
        // Handlers before the first await: a signal during the start waits for it, then closes
        // (removing the worker's directory) instead of killing the process half-started.
        onSignals(async () => {
          const started = await starting.catch(() => null);
          if (started) await started.close('stopped by signal');
        });
        const w = await starting;
        // The keys it connected with, as Worker.start took them (security undefined: the env).
        const keys =
          security === false
            ? null
            : (security ??
              (process.env[KEYS_ENV] ? parseKeys(process.env[KEYS_ENV], KEYS_ENV) : null));
        delete process.env[KEYS_ENV];
        // Started by a LocalCluster: leave with the parent.
        if (process.send) process.on('disconnect', () => void w.close('parent process gone'));
        await registeredOrRefused(w, keys).catch(async (err: unknown) => {
          await w.close('refused by the scheduler');
          throw err;
        });
        await w.closed;
        process.exit(process.exitCode ?? 0);
      } catch (err) {
        fail(err);
      }
    });
}

if (require.main === module) {
  // Run by hand (or in a batch job): it says once that it registered, and when it closes.
  // A LocalCluster's workers log at their parent's level (cluster/local.ts).
  log.defaultLevel('info');
  log.membersAtInfo();
  // --nanny (and not already its child): this process supervises a worker process instead.
  const args = process.argv.slice(2);
  if (args.includes('--nanny') && process.env[NANNY_ENV] !== '1') {
    runNanny(
      process.argv[1],
      args.filter((a) => a !== '--nanny'),
    );
  } else workerCommand().parseAsync().catch(fail);
}
