#!/usr/bin/env node
/**
 * `srun node dist/mpi-init.js [options] script.js [args...]`: one MPI launch, one cluster. Rank 0
 * runs the scheduler, rank 1 runs the script as the client, every other rank a worker.
 * `--scheduler-file F`: rank 0 scheduler, all other ranks workers; clients connect elsewhere.
 * `--no-scheduler`: every rank is a worker joining the cluster the file names.
 */
import { Command, Option } from 'commander';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { initialize, type InitializeOptions } from './bootstrap';
import { decodeJoin, encodeJoin } from './bootstrap/initialize';
import type { Security } from './net/security';
import { intOption, fail, onSignals, positiveNumber } from './cli/common';
import { readSchedulerFile } from './cluster/scheduler-file';
import { ClusterError, OptionError } from './errors';
import { log } from './log';
import * as mpi from './mpi';
import { hostFor } from './net';
import { Scheduler } from './scheduler/server';
import { Worker } from './worker';

interface Opts {
  schedulerFile?: string;
  scheduler: boolean;
  interface?: string;
  nthreads?: number;
  memoryLimit?: string;
  localDirectory?: string;
  name?: string;
  timeout: number;
  /** commander's --no-security: false when given. */
  security: boolean;
}

const nativeImport = new Function('url', 'return import(url)') as (url: string) => Promise<unknown>;

function memory(v?: string): number | string | undefined {
  return v === undefined ? undefined : /^[0-9.]+$/.test(v) ? Number(v) : v;
}

/** The MPI way: rank 1 runs the user's script; initialize() there returns the same client. */
async function runScript(script: string, args: string[], o: Opts): Promise<void> {
  const init: InitializeOptions = {
    interface: o.interface,
    nthreads: o.nthreads,
    memoryLimit: memory(o.memoryLimit),
    localDirectory: o.localDirectory,
    name: o.name,
    timeout: o.timeout * 1000,
    security: o.security ? undefined : false,
  };
  const client = await initialize(init);
  if (!client) return;
  const file = path.resolve(script);
  process.argv = [process.argv[0], file, ...args];
  // An error in the script is the script's: it surfaces as uncaught, with its stack, and ends the
  // job through the MPI exit handlers (MPI_Abort), like an error thrown later on.
  await nativeImport(pathToFileURL(file).href).catch((err: unknown) => {
    setImmediate(() => {
      throw err;
    });
  });
}

/** Scheduler-file mode: rank 0 scheduler (writes F), all other ranks workers. */
async function runFileMode(o: Opts): Promise<void> {
  mpi.init();
  const comm = mpi.world();
  const hosts = (await comm.allgather(Buffer.from(os.hostname()))).map((b) => b.toString());
  const host = o.interface
    ? undefined
    : hosts.every((h) => h === hosts[0])
      ? '127.0.0.1'
      : hostFor({});
  const file = o.schedulerFile!;
  let address: string;
  let security: Security;
  const abort = (err: unknown): never =>
    comm.abort(
      1,
      `mpi-init: rank ${comm.rank} on ${os.hostname()}: [${(err as { code?: string }).code ?? 'ERR_BOOTSTRAP'}] ${(err as Error).message}`,
    );
  if (o.scheduler) {
    if (comm.rank === 0) {
      const s = await Scheduler.start({
        interface: o.interface,
        host,
        schedulerFile: file,
        security: o.security ? undefined : false,
      }).catch(abort);
      await comm.bcast(encodeJoin(s), 0);
      onSignals(
        () => s.close('scheduler stopped by signal'),
        () => s.removeFile(),
      );
      process.stdout.write(`scheduler at ${s.address}, file ${file}\n`);
      await s.closed;
      mpi.finalize();
      process.exit(0);
    }
    // Workers take the address and keys from rank 0 over MPI, never from a file an earlier run
    // left.
    ({ address, security } = decodeJoin(await comm.bcast(null, 0)));
  } else {
    const f = await readSchedulerFile(file, { timeout: o.timeout * 1000 }).catch(abort);
    address = f.address;
    security = !o.security ? false : (f.keys ?? false);
  }
  const w = await Worker.start({
    scheduler: address,
    interface: o.interface,
    host,
    nthreads: o.nthreads,
    memoryLimit: memory(o.memoryLimit),
    localDirectory: o.localDirectory,
    name: `${o.name ?? ''}${comm.rank}`,
    security,
  }).catch(abort);
  onSignals(() => w.close('stopped by signal'));
  const registered = await Promise.race([
    w.registered.then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), o.timeout * 1000).unref()),
  ]);
  if (!registered) {
    abort(
      new ClusterError(
        'ERR_SCHEDULER_GONE',
        `the scheduler at ${address} (from ${file}) did not answer within ${o.timeout} s: is the file stale, from a scheduler that has exited?`,
      ),
    );
  }
  await w.closed;
  mpi.finalize();
  process.exit(0);
}

export function mpiInitCommand(): Command {
  return new Command('mpi-init')
    .description(
      'Start an mpi-cluster from one MPI launch (mpirun / srun): scheduler, client script and workers.',
    )
    .usage('[options] [script.js [args...]]')
    .argument('[script]', 'script to run on rank 1 as the client (uses initialize() to get it)')
    .argument('[args...]', 'arguments for the script')
    .option(
      '--scheduler-file <file>',
      'no client rank: rank 0 scheduler writes this file, other ranks are workers',
    )
    .option('--no-scheduler', 'with --scheduler-file: every rank is a worker joining that cluster')
    .option('--interface <name>', 'network interface for cluster traffic, e.g. ib0')
    .option('--nthreads <n>', 'threads per worker', intOption('--nthreads', 1))
    .option('--memory-limit <limit>', "per worker: 'auto', bytes, 4GB, or a fraction")
    .option('--local-directory <dir>', 'scratch directory for workers')
    .option('--name <prefix>', 'worker name prefix (names are PREFIX + rank)')
    .option(
      '--no-security',
      'no CurveZMQ: anyone who reaches the ports can run code as you (by default rank 0 makes keys and sends them over MPI)',
    )
    .addOption(
      new Option('--timeout <seconds>', 'wait this long for workers / the scheduler')
        .argParser(positiveNumber('--timeout'))
        .default(60),
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

On several nodes under Slurm 22.05, \`export SLURM_PMIX_FENCE=ring\` before srun: its default
PMIx fence is no barrier across nodes, and MPI_Init can then crash (docs/slurm.md).`,
    )
    .action(async (script: string | undefined, args: string[], o: Opts) => {
      try {
        if (!o.scheduler && !o.schedulerFile)
          throw new OptionError('--no-scheduler needs --scheduler-file FILE');
        if (o.schedulerFile) {
          if (script)
            throw new OptionError(
              `with --scheduler-file there is no client rank: leave out "${script}"`,
            );
          await runFileMode(o);
        } else if (!script) {
          throw new OptionError(
            'give a script to run as the client (mpi-init script.js), or --scheduler-file FILE',
          );
        } else await runScript(script, args, o);
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
