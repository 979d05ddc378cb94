#!/usr/bin/env node
import { Command, Option } from 'commander';
import { cleanup, clusterHome, ownerAlive, readLedgers } from '../jobqueue/ledger';
import type { SystemName } from '../jobqueue/options';
import { fail, versionFlag } from './common';

/** `mpi-cluster-jobs`: the jobs job-queue clusters submitted, and cancelling those left behind. */
export function jobsCommand(): Command {
  const program = new Command('mpi-cluster-jobs')
    .description(
      `List and clean up the batch jobs of job-queue clusters (SLURMCluster, PBSCluster, SGECluster), from their ledgers in ${clusterHome()} ($MPI_CLUSTER_HOME; default: ~/.mpi-cluster).`,
    )
    .version(...versionFlag());
  const system = new Option(
    '--system <name>',
    'only clusters of this batch system (default: every system)',
  ).choices(['slurm', 'pbs', 'sge']);
  program
    .command('list')
    .description('each cluster with a ledger: its system, owner process and jobs')
    .option('--json', 'one JSON array')
    .action((o: { json?: boolean }) => {
      const ledgers = readLedgers().map((e) => ({ ...e, ownerAlive: ownerAlive(e) }));
      if (o.json) {
        process.stdout.write(
          `${JSON.stringify(
            ledgers.map(({ env: _env, ...rest }) => rest),
            null,
            2,
          )}\n`,
        );
        return;
      }
      if (ledgers.length === 0) process.stdout.write('no job-queue clusters with jobs\n');
      for (const e of ledgers) {
        const owner = `pid ${e.pid} on ${e.host}, ${e.ownerAlive ? 'running' : 'gone'}`;
        process.stdout.write(
          `${e.cluster}  ${e.system}  ${owner}  jobs: ${e.jobs.join(' ') || '(none)'}\n`,
        );
      }
    });
  program
    .command('cleanup')
    .description(
      'cancel the jobs of clusters whose process is gone (a crashed or killed client), and drop their ledgers',
    )
    .option(
      '--all',
      'also the jobs of clusters still running (their jobs end; the clusters lose their workers)',
    )
    .addOption(system)
    .addHelpText(
      'after',
      '\nExample:\n  $ mpi-cluster-jobs cleanup            # after a notebook or script was killed\n',
    )
    .action(async (o: { all?: boolean; system?: SystemName }) => {
      const done = await cleanup({ all: o.all, system: o.system });
      if (done.length === 0) process.stdout.write('nothing to clean up\n');
      for (const d of done) {
        process.stdout.write(
          `cluster ${d.cluster} (${d.system}): cancelled ${d.jobs.join(' ') || 'no jobs'}\n`,
        );
      }
    });
  return program;
}

if (require.main === module) {
  jobsCommand().parseAsync().catch(fail);
}
