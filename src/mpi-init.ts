#!/usr/bin/env node
/**
 * `srun node dist/mpi-init.js [options] script.js [args...]`: one MPI launch, one cluster. Rank 0
 * runs the scheduler, rank 1 runs the script as the client, every other rank a worker.
 * `--scheduler-file F`: rank 0 scheduler, all other ranks workers; clients connect elsewhere.
 * `--no-scheduler`: every rank is a worker joining the cluster the file names.
 */
import { Command } from 'commander';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { initialize, type InitializeOptions } from './bootstrap';
import { rankSetup } from './bootstrap/initialize';
import { describePlacement, placement } from './bootstrap/placement';
import { hostsOf, startRank } from './bootstrap/rank';
import type { Join } from './bootstrap/roles';
import { BOOTSTRAP_DEFAULTS } from './bootstrap/defaults';
import {
  DASHBOARD_HELP,
  durationFlag,
  fail,
  intOption,
  memoryThresholdOptions,
  onSignals,
  thresholdsFrom,
  versionFlag,
} from './cli/common';
import { readSchedulerFile } from './cluster/scheduler-file';
import { ClusterError, OptionError } from './errors';
import { log } from './log';
import * as mpi from './mpi';
import { formatDuration } from './util/duration';
import { defaultWorkerParent } from './worker/directory';
import { WORKER_DEFAULTS } from './worker/options';

interface Opts {
  schedulerFile?: string;
  scheduler: boolean;
  interface?: string;
  nthreads?: number;
  memoryLimit?: string;
  memoryTarget?: string;
  memorySpill?: string;
  memoryPause?: string;
  memoryTerminate?: string;
  localDirectory?: string;
  name?: string;
  /** ms */
  timeout: number;
  /** commander's --no-security: false when given. */
  security: boolean;
  schedulerRank?: number;
  clientRank?: number;
  inclusiveWorkers?: boolean;
  schedulerPort?: number;
  gpus?: boolean;
  /** commander's --no-dashboard: false when given. */
  dashboard: boolean;
  dashboardAddress?: string;
}

const nativeImport = new Function('url', 'return import(url)') as (url: string) => Promise<unknown>;

function memory(v?: string): number | string | undefined {
  return v === undefined ? undefined : /^[0-9.]+$/.test(v) ? Number(v) : v;
}

/** The options of initialize() that the flags give, in both modes. */
function initOptions(o: Opts): InitializeOptions {
  return {
    interface: o.interface,
    nthreads: o.nthreads,
    memoryLimit: memory(o.memoryLimit),
    memoryThresholds: thresholdsFrom(o),
    localDirectory: o.localDirectory,
    name: o.name,
    timeout: o.timeout,
    security: o.security ? undefined : false,
    schedulerRank: o.schedulerRank,
    clientRank: o.clientRank,
    exclusiveWorkers: o.inclusiveWorkers ? false : undefined,
    schedulerPort: o.schedulerPort,
    gpus: o.gpus,
    dashboardAddress: o.dashboard ? o.dashboardAddress : false,
  };
}

/**
 * The script's file, found as `node script` finds it (from the current directory; with .js,
 * .json or .node added, or a directory's package.json main or index.js), before MPI or any
 * cluster starts: a missing script is ERR_INVALID_OPTION naming the path, not a started job.
 */
export function resolveScript(script: string, cwd = process.cwd()): string {
  const file = path.resolve(cwd, script);
  try {
    return require.resolve(file);
  } catch {
    throw new OptionError(
      `script "${script}" not found: no file ${file} (nor with .js, .json or .node added, nor a directory with an index.js); a relative path is taken from the current directory, ${cwd}`,
    );
  }
}

/** The MPI way: the client's rank runs the user's script; initialize() there returns the same client. */
async function runScript(file: string, args: string[], o: Opts): Promise<void> {
  const client = await initialize(initOptions(o));
  if (!client) return;
  process.argv = [process.argv[0], file, ...args];
  // An error in the script is the script's: it surfaces as uncaught, with its stack, and ends the
  // job through the MPI exit handlers (MPI_Abort), like an error thrown later on.
  await nativeImport(pathToFileURL(file).href).catch((err: unknown) => {
    setImmediate(() => {
      throw err;
    });
  });
}

/**
 * Scheduler-file mode: the scheduler's rank (0 unless --scheduler-rank) writes F, the other ranks
 * (and it too, with --inclusive-workers) are workers; with --no-scheduler every rank is a worker
 * of the cluster F names.
 */
async function runFileMode(o: Opts): Promise<void> {
  mpi.init();
  const comm = mpi.world();
  const file = o.schedulerFile!;
  const abort = (err: unknown): never =>
    comm.abort(
      1,
      `mpi-init: rank ${comm.rank} on ${os.hostname()}: [${(err as { code?: string }).code ?? 'ERR_BOOTSTRAP'}] ${(err as Error).message}`,
    );
  const init = initOptions(o);
  const { hosts, host, job } = await hostsOf(comm, o.interface);
  // Workers of a scheduler outside this job take its address and keys from the file.
  const outside = o.scheduler
    ? undefined
    : await readSchedulerFile(file, { timeout: o.timeout })
        .then((f): Join => ({ address: f.address, security: (o.security && f.keys) || false }))
        .catch(abort);
  const plan = placement(
    comm.size,
    { schedulerRank: o.schedulerRank, exclusiveWorkers: init.exclusiveWorkers },
    o.scheduler ? 'file' : 'workers',
  );
  if (comm.rank === plan.schedulerRank) log.debug(`mpi-init: ranks ${describePlacement(plan)}`);
  const rank = await startRank(
    rankSetup(comm, plan, init, host, { schedulerFile: file, outside }),
    { hosts, job },
  ).catch(abort);
  const started = rank.started!;
  onSignals(
    () => started.close('stopped by signal'),
    () => started.scheduler?.removeFile(),
  );
  if (started.scheduler) process.stdout.write(`scheduler at ${rank.join.address}, file ${file}\n`);
  const worker = started.worker;
  const registered = await Promise.race([
    worker ? worker.registered.then(() => true) : true,
    new Promise<boolean>((r) => setTimeout(() => r(false), o.timeout).unref()),
  ]);
  if (!registered) {
    abort(
      new ClusterError(
        'ERR_SCHEDULER_GONE',
        `the scheduler at ${rank.join.address} (from ${file}) did not answer within ${formatDuration(o.timeout)} (--timeout): is the file stale, from a scheduler that has exited?`,
      ),
    );
  }
  await started.closed;
  mpi.finalize();
  process.exit(0);
}

export function mpiInitCommand(): Command {
  return memoryThresholdOptions(new Command('mpi-init'))
    .description(
      'Start an mpi-cluster from one MPI launch (mpirun / srun): scheduler, client script and workers.',
    )
    .version(...versionFlag())
    .usage('[options] [script.js [args...]]')
    .argument('[script]', 'script to run on rank 1 as the client (uses initialize() to get it)')
    .argument('[args...]', 'arguments for the script')
    .option(
      '--scheduler-file <file>',
      'no client rank: rank 0 scheduler writes this file, other ranks are workers',
    )
    .option('--no-scheduler', 'with --scheduler-file: every rank is a worker joining that cluster')
    .option(
      '--interface <name>',
      "network interface for cluster traffic, e.g. ib0 (default: 127.0.0.1 when every rank is on one host; else the scheduler binds its host's first non-loopback IPv4 address and each worker the address that routes to it, with a warning)",
    )
    .option(
      '--nthreads <n>',
      `threads per worker (default: ${WORKER_DEFAULTS.nthreads})`,
      intOption('--nthreads', 1),
    )
    .option(
      '--memory-limit <limit>',
      `per worker: 'auto' (the host's memory shared by thread count), bytes, 4GB, or a fraction (default: ${WORKER_DEFAULTS.memoryLimit})`,
    )
    .option(
      '--local-directory <dir>',
      `scratch space: each worker makes its own directory in it (default: ${defaultWorkerParent()})`,
    )
    .option(
      '--name <prefix>',
      'worker name prefix: names are PREFIX + rank (default: none, names are the ranks)',
    )
    .option(
      '--no-security',
      'no CurveZMQ: anyone who reaches the ports can run code as you (by default rank 0 makes keys and sends them over MPI)',
    )
    .option(
      '--scheduler-rank <rank>',
      `the rank that runs the scheduler (default: ${BOOTSTRAP_DEFAULTS.schedulerRank})`,
      intOption('--scheduler-rank', 0),
    )
    .option(
      '--client-rank <rank>',
      `the rank that runs the script; may be the scheduler's (default: ${BOOTSTRAP_DEFAULTS.clientRank}, or 0 when the scheduler is on ${BOOTSTRAP_DEFAULTS.clientRank})`,
      intOption('--client-rank', 0),
    )
    .option(
      '--inclusive-workers',
      "the scheduler's and the client's ranks run a worker too (no rank without one)",
    )
    .option(
      '--scheduler-port <port>',
      "the scheduler's port, for sites that open one (default: one the OS chooses)",
      intOption('--scheduler-port', 1, 65535),
    )
    .option(
      '--gpus',
      'pin each worker rank to one GPU by its node-local rank and offer the resource GPU=1',
    )
    .option('--dashboard-address <address>', DASHBOARD_HELP)
    .option('--no-dashboard', 'no HTTP server on the scheduler')
    .addOption(
      durationFlag(
        '--timeout <duration>',
        "how long the client's rank waits for every worker to register; with --scheduler-file, how long workers wait for the scheduler",
        BOOTSTRAP_DEFAULTS.timeout,
      ),
    )
    .passThroughOptions()
    .addHelpText(
      'after',
      `
Examples:
  $ srun node dist/mpi-init.js --interface ib0 examples/squares.js
  $ mpirun -np 6 node dist/mpi-init.js --nthreads 2 my-analysis.js input.csv
  $ srun node dist/mpi-init.js --scheduler-file ~/sched.json --interface ib0
  $ srun node dist/mpi-init.js --scheduler-file ~/sched.json --no-scheduler
  $ mpirun -np 4 node dist/mpi-init.js --inclusive-workers --gpus train.js
  $ srun node dist/mpi-init.js --scheduler-rank 0 --client-rank 0 --scheduler-port 8786 run.js

Rank layouts (S scheduler, C client, W worker), for 4 ranks:
  default                                0:S      1:C    2:W  3:W
  --inclusive-workers                    0:S+W    1:C+W  2:W  3:W
  --client-rank 0                        0:S+C    1:W    2:W  3:W
  --client-rank 0 --inclusive-workers    0:S+C+W  1:W    2:W  3:W
With --inclusive-workers a 1- or 2-rank job is a cluster too. On the client's rank the
scheduler and the worker run in a child process of the rank, ended with it.

On several nodes under Slurm 22.05, \`export SLURM_PMIX_FENCE=ring\` before srun: its default
PMIx fence is no barrier across nodes, and MPI_Init can then crash (docs/slurm.md).`,
    )
    .action(async (script: string | undefined, args: string[], o: Opts) => {
      try {
        if (!o.scheduler && !o.schedulerFile)
          throw new OptionError('--no-scheduler needs --scheduler-file FILE');
        if (o.schedulerFile) {
          if (o.clientRank !== undefined)
            throw new OptionError(
              'with --scheduler-file there is no client rank: leave out --client-rank (clients connect through the file)',
            );
          if (!o.scheduler && (o.schedulerRank !== undefined || o.inclusiveWorkers))
            throw new OptionError(
              'with --no-scheduler every rank is a worker: leave out --scheduler-rank and --inclusive-workers',
            );
          if (script)
            throw new OptionError(
              `with --scheduler-file there is no client rank: leave out "${script}"`,
            );
          await runFileMode(o);
        } else if (!script) {
          throw new OptionError(
            'give a script to run as the client (mpi-init script.js), or --scheduler-file FILE',
          );
        } else await runScript(resolveScript(script), args, o);
      } catch (err) {
        if (mpi.available() && mpi.initialized() && !mpi.finalized()) {
          const e = err as { code?: string; message?: string };
          mpi.world().abort(1, `mpi-init [${e.code ?? 'ERR_BOOTSTRAP'}]: ${e.message}`);
        }
        fail(err, 2);
      }
    });
}

if (require.main === module) {
  // A batch job's output shows who joined and left, with the reasons (MPI_CLUSTER_LOG overrides).
  log.defaultLevel('info');
  mpiInitCommand()
    .parseAsync()
    .catch((err) => fail(err, 2));
}
