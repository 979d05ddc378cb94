#!/usr/bin/env node
import { Command } from 'commander';
import { KEYS_ENV, resolveSecurity } from '../net/security';
import { log } from '../log';
import { FATAL_EXIT_CODE, Scheduler } from '../scheduler/server';
import { DEFAULT_SCHEDULER_CONFIG } from '../scheduler/types';
import {
  SCHEDULER_BIND_DEFAULT,
  DASHBOARD_HELP,
  durationFlag,
  fail,
  intOption,
  onSignals,
  versionFlag,
} from './common';

export function schedulerCommand(): Command {
  return new Command('mpi-cluster-scheduler')
    .description('Run an mpi-cluster scheduler: workers and clients connect to it over ZeroMQ.')
    .version(...versionFlag())
    .option(
      '--scheduler-file <file>',
      `write the address and keys here (JSON, mode 0600; removed at exit) (default: none; workers then need ${KEYS_ENV}, or --no-security on both sides)`,
    )
    .option(
      '--interface <name>',
      `network interface to bind on, e.g. ib0 (default: ${SCHEDULER_BIND_DEFAULT})`,
    )
    .option('--host <ip>', 'address to bind on, instead of --interface')
    .option(
      '--port <port>',
      'port to bind on (default: one the OS chooses)',
      intOption('--port', 0, 65535),
    )
    .addOption(
      durationFlag(
        '--worker-ttl <duration>',
        'remove a worker whose host went silent this long (a worker whose process exits is removed at once)',
        DEFAULT_SCHEDULER_CONFIG.workerTtl,
      ),
    )
    .option('--dashboard-address <addr>', DASHBOARD_HELP)
    .option('--no-dashboard', 'no HTTP server')
    .option(
      '--no-security',
      'accept peers without CurveZMQ keys: anyone who reaches the port can run code as you (by default keys are made and written to the scheduler file)',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ mpi-cluster-scheduler --scheduler-file ~/sched.json --interface ib0
  $ mpi-cluster-worker --scheduler-file ~/sched.json --nthreads 4`,
    )
    .action(
      async (o: {
        schedulerFile?: string;
        interface?: string;
        host?: string;
        port?: number;
        /** ms */
        workerTtl: number;
        dashboardAddress?: string;
        dashboard: boolean;
        security: boolean;
      }) => {
        try {
          // Keys: off if asked; else MPI_CLUSTER_KEYS; else new ones, which only a scheduler
          // file can hand to others (without one, nobody could join).
          const security = !o.security
            ? false
            : (resolveSecurity(undefined, 'scheduler', o.schedulerFile ? 'plain' : 'refuse') ??
              undefined);
          delete process.env[KEYS_ENV];
          const starting = Scheduler.start({
            schedulerFile: o.schedulerFile,
            interface: o.interface,
            host: o.host,
            port: o.port,
            workerTtl: o.workerTtl,
            onFatal: () => process.exit(FATAL_EXIT_CODE),
            security,
            dashboardAddress: o.dashboard ? o.dashboardAddress : false,
          });
          // Handlers before the first await: the start logs its address (at info) before it
          // resolves, and whoever reads that may signal at once; such a stop waits for the start.
          let started: Scheduler | null = null;
          onSignals(
            async () => {
              const sched = await starting.catch(() => null);
              if (sched) await sched.close('scheduler stopped by signal');
            },
            () => started?.removeFile(),
          );
          const s = await starting;
          started = s;
          process.stdout.write(`scheduler at ${s.address}\n`);
          // Batch output files are often readable by others: the link is printed without its
          // token (which is in the scheduler file, and in every client's metricsLink).
          const http = s.httpServer;
          if (http) {
            process.stdout.write(
              `dashboard at ${http.url}/status, metrics at ${http.url}/metrics (the token: client.dashboardLink, or "dashboard" in the scheduler file)\n`,
            );
          }
          await s.closed;
          process.exit(0);
        } catch (err) {
          fail(err);
        }
      },
    );
}

if (require.main === module) {
  // Who joined and left, with the reasons, by default (MPI_CLUSTER_LOG overrides).
  log.defaultLevel('info');
  log.membersAtInfo();
  schedulerCommand().parseAsync().catch(fail);
}
